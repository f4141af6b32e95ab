#!/usr/bin/env bash
# Install everything zonehop's build, tests and local world need on a fresh Debian 12 machine
# (run as root; only the package registries are reachable). Idempotent: a second run only checks,
# and takes a few seconds.
#
#   bash scripts/setup.sh
#
# Environment:
#   ZONEHOP_VENV    the Python virtualenv (default: <repo>/.venv)
#   ZONEHOP_PYTHON  the interpreter that creates it (default: python3)
#
# What it does:
#   1. apt: the DNS world (knot, unbound, knot-resolver, dnsperf, ldns/bind tools), iproute2, jq,
#      python3-venv, chromium (headless, for tools/report's browser test of report.html);
#      `apt-get update` once, only when something is missing. No daemon is left running.
#   2. a virtualenv with scripts/requirements.txt (moto server, aws-sam-translator, cargo-lambda,
#      octoDNS + Route 53 provider); skipped when the stamp in the venv holds the same requirements hash.
#   3. rustup: the aarch64-unknown-linux-gnu target (Lambda arm64 builds), rustfmt and clippy.
#      cargo-nextest is expected on the machine already.
#   4. the infra linters of scripts/lint-infra.sh: cfn-lint and aws-sam-cli come with step 2
#      (scripts/requirements.txt); asl-validator with `npm ci` into node_modules/ (package.json,
#      package-lock.json), skipped when the stamp in node_modules holds the lock file's hash.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------
APT_PACKAGES=(knot knot-dnsutils unbound knot-resolver dnsperf ldnsutils bind9-dnsutils iproute2 jq
  python3-venv chromium)
# Daemons whose packages might start them (postinst); none must stay running.
SERVICES=(unbound knot kresd@1 kres-cache-gc)

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  log "apt: all ${#APT_PACKAGES[@]} packages present"
else
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep maintainer scripts from starting daemons: invoke-rc.d asks policy-rc.d (exit 101 = deny).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  restore_policy() { if [ "$own_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
  trap restore_policy EXIT
  log "apt: apt-get update"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}"
  restore_policy
  trap - EXIT
  own_policy=0

  # If a postinst started a service anyway, stop it (systemd may well be absent: never fail here).
  for s in "${SERVICES[@]}"; do
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      if systemctl is-active --quiet "$s" 2>/dev/null; then
        log "apt: stopping service $s (started by its package)"
        $SUDO systemctl stop "$s" 2>/dev/null || true
      fi
    elif [ -x "/etc/init.d/$s" ]; then
      if "/etc/init.d/$s" status >/dev/null 2>&1; then
        log "apt: stopping service $s (started by its package)"
        $SUDO "/etc/init.d/$s" stop >/dev/null 2>&1 || true
      fi
    fi
  done
  log "apt: done"
fi

# ---------------------------------------------------------------------------------------------
# 2. Python virtualenv
# ---------------------------------------------------------------------------------------------
VENV="${ZONEHOP_VENV:-$ROOT/.venv}"
PYTHON="${ZONEHOP_PYTHON:-python3}"
REQS="$ROOT/scripts/requirements.txt"
STAMP="$VENV/.zonehop-requirements.sha256"

if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "venv: creating $VENV with $("$PYTHON" --version 2>&1)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" = "$have" ]; then
  log "venv: $VENV up to date with scripts/requirements.txt"
else
  log "venv: pip install -r scripts/requirements.txt into $VENV"
  rm -f "$STAMP"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS"
  for tool in moto_server cargo-lambda octodns-sync; do
    [ -x "$VENV/bin/$tool" ] || { echo "[setup] ERROR: $VENV/bin/$tool missing after pip install" >&2; exit 1; }
  done
  "$VENV/bin/python" -c 'import samtranslator.translator.transform' ||
    { echo "[setup] ERROR: aws-sam-translator missing after pip install" >&2; exit 1; }
  echo "$want" >"$STAMP"
  log "venv: done"
fi

# ---------------------------------------------------------------------------------------------
# 3. Rust toolchain pieces (the toolchain itself and cargo-nextest come with the machine)
# ---------------------------------------------------------------------------------------------
if ! command -v rustup >/dev/null 2>&1; then
  warn "rustup not found: skipping the aarch64 target, rustfmt and clippy"
else
  targets="$(rustup target list --installed 2>/dev/null || true)"
  if grep -qx 'aarch64-unknown-linux-gnu' <<<"$targets"; then
    log "rustup: target aarch64-unknown-linux-gnu present"
  else
    log "rustup: adding target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu ||
      warn "rustup could not add aarch64-unknown-linux-gnu: arm64 Lambda builds will not work"
  fi
  components="$(rustup component list --installed 2>/dev/null || true)"
  for c in rustfmt clippy; do
    if grep -q "^$c" <<<"$components"; then
      log "rustup: component $c present"
    else
      log "rustup: adding component $c"
      rustup component add "$c" || warn "rustup could not add $c"
    fi
  done
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  warn "cargo-nextest not found on PATH (expected on the machine; setup does not install it)"
fi

# ---------------------------------------------------------------------------------------------
# 4. Infra linters (scripts/lint-infra.sh): cfn-lint + sam from the venv, asl-validator from npm
# ---------------------------------------------------------------------------------------------
for tool in cfn-lint sam; do
  [ -x "$VENV/bin/$tool" ] || { echo "[setup] ERROR: $VENV/bin/$tool missing (scripts/requirements.txt)" >&2; exit 1; }
done
NPM_STAMP="$ROOT/node_modules/.zonehop-package-lock.sha256"
if ! command -v npm >/dev/null 2>&1; then
  warn "npm not found: scripts/lint-infra.sh cannot validate the state machine (install Node.js and npm)"
else
  want_npm="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ -x "$ROOT/node_modules/.bin/asl-validator" ] && [ "$(cat "$NPM_STAMP" 2>/dev/null || true)" = "$want_npm" ]; then
    log "npm: node_modules up to date with package-lock.json"
  else
    log "npm: npm ci (asl-validator, from package-lock.json)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    [ -x "$ROOT/node_modules/.bin/asl-validator" ] ||
      { echo "[setup] ERROR: node_modules/.bin/asl-validator missing after npm ci" >&2; exit 1; }
    echo "$want_npm" >"$NPM_STAMP"
    log "npm: done"
  fi
fi

log "all set"
