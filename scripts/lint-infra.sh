#!/usr/bin/env bash
# Lints zonehop's infrastructure, offline and without AWS credentials:
#
#   1. asl-validator (npm, node_modules/) on statemachine/*.asl.json and tests/statemachine/*.asl.json;
#   2. the ASL's ${...} placeholders against the template's DefinitionSubstitutions (both ways),
#      because neither cfn-lint nor sam validate looks inside the ASL file;
#   3. cfn-lint (.venv) on infra/*.yaml (the SAM template and the member-account role);
#   4. sam validate --region us-east-1 on infra/template.yaml (the SAM transform; no --lint, which
#      would bring its own, newer cfn-lint).
#
#   bash scripts/lint-infra.sh      (make setup installs the tools)
#
# Every check runs even when an earlier one fails; the exit status is non-zero when any failed.
# Environment: ZONEHOP_VENV (default <repo>/.venv).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
VENV="${ZONEHOP_VENV:-$ROOT/.venv}"

log() { printf '[lint-infra] %s\n' "$*"; }

ASL_VALIDATOR="$ROOT/node_modules/.bin/asl-validator"
CFN_LINT="$VENV/bin/cfn-lint"
SAM="$VENV/bin/sam"
for tool in "$ASL_VALIDATOR" "$CFN_LINT" "$SAM"; do
  if [ ! -x "$tool" ]; then
    log "ERROR: $tool is missing: run \`make setup\` (or bash scripts/setup.sh)"
    exit 2
  fi
done

shopt -s nullglob
ASL_FILES=(statemachine/*.asl.json tests/statemachine/*.asl.json)
TEMPLATES=(infra/*.yaml)
SAM_TEMPLATE=infra/template.yaml
shopt -u nullglob

failed=()
check() {
  local name="$1"
  shift
  log "--- $name"
  if "$@"; then
    log "ok: $name"
  else
    log "FAILED: $name"
    failed+=("$name")
  fi
}

# 1. ASL files
if [ "${#ASL_FILES[@]}" -eq 0 ]; then
  log "FAILED: no statemachine/*.asl.json"
  failed+=("asl files")
else
  asl_args=()
  for f in "${ASL_FILES[@]}"; do asl_args+=(--json-path "$f"); done
  check "asl-validator $("$ASL_VALIDATOR" --version 2>/dev/null) on ${#ASL_FILES[@]} file(s)" \
    "$ASL_VALIDATOR" "${asl_args[@]}"
fi

# 2. The ASL's placeholders are exactly the template's DefinitionSubstitutions.
substitutions() {
  "$VENV/bin/python" - "$SAM_TEMPLATE" <<'PY'
import json, re, sys
from pathlib import Path

from cfnlint.decode import decode

template_path = Path(sys.argv[1])
template, errors = decode(str(template_path))
if errors or template is None:
    for e in errors or []:
        print(f"  {e}")
    sys.exit(1)
bad = 0
machines = 0
for name, res in template.get("Resources", {}).items():
    if res.get("Type") != "AWS::Serverless::StateMachine":
        continue
    machines += 1
    props = res.get("Properties", {})
    uri = props.get("DefinitionUri")
    if not isinstance(uri, str):
        print(f"  {name}: DefinitionUri is not a local file")
        bad += 1
        continue
    asl = (template_path.parent / uri).resolve()
    if not asl.is_file():
        print(f"  {name}: DefinitionUri {uri} does not exist ({asl})")
        bad += 1
        continue
    text = asl.read_text()
    json.loads(text)
    used = set(re.findall(r"\$\{([^}]*)\}", text))
    given = set((props.get("DefinitionSubstitutions") or {}).keys())
    for key in sorted(used - given):
        print(f"  {name}: {uri} uses ${{{key}}}, which DefinitionSubstitutions does not give")
        bad += 1
    for key in sorted(given - used):
        print(f"  {name}: DefinitionSubstitutions gives {key}, which {uri} never uses")
        bad += 1
    print(f"  {name}: {uri}: {len(used)} placeholders, {len(given)} substitutions")
if machines == 0:
    print("  no AWS::Serverless::StateMachine in the template")
    bad += 1
sys.exit(1 if bad else 0)
PY
}
check "ASL placeholders vs DefinitionSubstitutions in $SAM_TEMPLATE" substitutions

# 3. CloudFormation / SAM templates
check "cfn-lint $("$CFN_LINT" --version 2>/dev/null | awk '{print $NF}') on ${TEMPLATES[*]}" \
  "$CFN_LINT" -- "${TEMPLATES[@]}"

# 4. The SAM transform. sam needs no credentials and no network for this, but left alone it would
# still connect out: telemetry (on by default), a weekly "newer version?" request to PyPI after the
# command, and the EC2 metadata address while looking for credentials. Each is switched off: no
# telemetry, a private config dir (sam's __SAM_CLI_APP_DIR) whose last version check lies in 2100
# (a float: sam ignores an integer there), and AWS_EC2_METADATA_DISABLED. Checked with strace: no
# AF_INET connect at all; it also passes inside `unshare -rn` (no network).
sam_validate() {
  local home="$VENV/.zonehop-sam-cli"
  mkdir -p "$home"
  printf '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}\n' >"$home/metadata.json"
  SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$home" AWS_EC2_METADATA_DISABLED=true \
    "$SAM" validate --region us-east-1 -t "$SAM_TEMPLATE"
}
check "sam validate ($("$SAM" --version 2>/dev/null | awk '{print $NF}')) on $SAM_TEMPLATE" sam_validate

if [ "${#failed[@]}" -eq 0 ]; then
  log "all infra checks passed"
  exit 0
fi
log "${#failed[@]} check(s) failed:"
for f in "${failed[@]}"; do log "  - $f"; done
exit 1
