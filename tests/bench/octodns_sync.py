"""octoDNS side of zonehop's sync benchmark: write a Route 53 zone export into moto with octoDNS.

    .venv/bin/python tests/bench/octodns_sync.py --endpoint http://127.0.0.1:PORT \
        --zone-file ZONE.json --domain bench.example.

ZONE.json is an `aws route53 list-resource-record-sets` export. Its simple records (A, AAAA,
CNAME, TXT, MX; apex SOA and NS are skipped, anything else is refused) become an octoDNS
YamlProvider source; the target is octodns_route53.Route53Provider, which reaches moto through
AWS_ENDPOINT_URL (dummy credentials, us-east-1). octoDNS 1.22 syncs in-process (--doit), three
times:

  defaults        into a fresh, empty hosted zone, octoDNS's default options;
  max_changes=80  into a fresh, empty hosted zone again, provider option max_changes: 80;
  rerun           the same source once more over the zone of the second run (nothing to change).

The script owns the hosted zone(s) named DOMAIN on that endpoint: before each of the first two
runs it empties and deletes them (with its own, uncounted, legal change batches) and creates one
empty zone, so every run starts from the same state a zonehop sync starts from.

For each run it counts, with botocore event hooks on octoDNS's own Route 53 client: API calls per
operation (before-call), ChangeResourceRecordSets and ListResourceRecordSets calls, failed HTTP
attempts (needs-retry: an HTTP status >= 400 or no response at all, retried or not), and checks
every ChangeResourceRecordSets batch against Route 53's limits (before-parameter-build): at most
1,000 ResourceRecord values and at most 32,000 characters summed over all Value elements, an
UPSERT counting twice in both. moto enforces only the first, so this is the only check of the
second. Wall time is the time of Manager.sync alone.

After each run the zone is read back (uncounted) and compared with the export: same RRsets, TTLs
and values (TXT compared as DNS character-strings, AAAA as addresses, names case-insensitively).
A difference makes the exit status 2 (after the report).

Output: human-readable lines, then one JSON object on the last line of stdout:
  {"runs":[{"label":"defaults","change_calls":..,"list_calls":..,"failed_calls":..,
            "illegal_batches":..,"max_batch_values":..,"max_batch_chars":..,"wall_seconds":..,
            ...}, {"label":"max_changes=80",...}, {"label":"rerun",...}], "zone": {...}}

Safety: the endpoint must be a loopback address; every request octoDNS's client sends is checked
against it (before-send) and refused otherwise; the AWS environment of the caller is replaced.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROUTE53_MAX_VALUES = 1000
ROUTE53_MAX_CHARS = 32000
SIMPLE_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")
RUNS = (
    ("defaults", None, True),  # label, max_changes (None: octoDNS's default), fresh zone
    ("max_changes=80", 80, True),
    ("rerun", None, False),
)


def say(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Endpoint and environment
# ---------------------------------------------------------------------------------------------
def loopback_endpoint(endpoint: str) -> str:
    """Return the endpoint's "host:port" after checking that it is a loopback HTTP address."""
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname or parts.port is None:
        raise SystemExit(f"--endpoint must look like http://127.0.0.1:PORT, got {endpoint!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SystemExit(f"--endpoint must have no path, got {endpoint!r}")
    # An address literal (or "localhost"): no name is looked up, so nothing leaves the machine.
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"--endpoint must be a loopback address literal, got {endpoint!r}")
    return parts.netloc.lower()


def isolate_aws_environment(endpoint: str) -> None:
    """Point botocore at the endpoint alone and give it dummy credentials.

    Every AWS_* variable of the caller is dropped (a profile, a role, another endpoint); config
    and credential files are ignored; the instance metadata service is never asked.
    """
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_ROUTE_53": endpoint,
            "AWS_ACCESS_KEY_ID": "zonehopbench",
            "AWS_SECRET_ACCESS_KEY": "zonehopbench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


# ---------------------------------------------------------------------------------------------
# The export: reading, canonical form, conversion to octoDNS
# ---------------------------------------------------------------------------------------------
_OCTAL_ESCAPE = re.compile(r"\\(\d{3})")


def decode_name(name: str) -> str:
    """A Route 53 name as an absolute, lower-case name (\\052 -> *)."""
    name = _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name).lower()
    return name if name.endswith(".") else name + "."


def txt_strings(value: str) -> tuple[bytes, ...]:
    """The character-strings of one TXT value in presentation format ("abc" "def")."""
    import dns.rdata

    return tuple(dns.rdata.from_text("IN", "TXT", value).strings)


def canonical_value(rtype: str, value: str) -> Any:
    if rtype == "A":
        return str(ipaddress.IPv4Address(value))
    if rtype == "AAAA":
        return str(ipaddress.IPv6Address(value))
    if rtype == "CNAME":
        return decode_name(value)
    if rtype == "MX":
        preference, exchange = value.split()
        return (int(preference), decode_name(exchange))
    if rtype == "TXT":
        return txt_strings(value)
    raise ValueError(rtype)


@dataclass
class RRset:
    name: str  # absolute, lower case
    type: str
    ttl: int
    values: list[str]  # Route 53 presentation values

    def canonical(self) -> tuple[int, tuple[Any, ...]]:
        return self.ttl, tuple(sorted(canonical_value(self.type, v) for v in self.values))


def load_export(path: Path, domain: str) -> tuple[list[RRset], int]:
    """Read the export; return the RRsets to sync and the number of apex SOA/NS RRsets skipped."""
    data = json.loads(path.read_text())
    rrsets: list[RRset] = []
    skipped = 0
    problems: list[str] = []
    for rr in data["ResourceRecordSets"]:
        name, rtype = decode_name(rr["Name"]), rr["Type"]
        if name == domain and rtype in ("SOA", "NS"):
            skipped += 1
            continue
        if not (name == domain or name.endswith("." + domain)):
            problems.append(f"{rr['Name']} is not in {domain}")
        elif rtype not in SIMPLE_TYPES:
            problems.append(f"{rr['Name']} {rtype}: only {', '.join(SIMPLE_TYPES)} are supported")
        elif "AliasTarget" in rr or "SetIdentifier" in rr or "ResourceRecords" not in rr:
            problems.append(f"{rr['Name']} {rtype}: aliases and routing policies are not supported")
        else:
            rrsets.append(
                RRset(name, rtype, int(rr["TTL"]), [v["Value"] for v in rr["ResourceRecords"]])
            )
    if problems:
        raise SystemExit("unsupported records in the export:\n  " + "\n  ".join(problems[:20]))
    return rrsets, skipped


def txt_to_octodns(value: str) -> str:
    """One Route 53 TXT value ("abc" "def") as an octoDNS YAML TXT value.

    octoDNS keeps a TXT value as one string without quotes, with `;` escaped as `\\;`; its Route 53
    provider writes it back by escaping `"` and cutting the string into quoted chunks of 255.
    So the character-strings are joined, and what the provider would not escape itself is
    escaped here: `\\` as `\\\\`, `;` as `\\;`, bytes outside printable ASCII as `\\DDD`.
    A value whose strings are not cut at every 255 bytes comes back cut at 255: the comparison
    after the run reports it.
    """
    out = []
    for byte in b"".join(txt_strings(value)):
        ch = chr(byte)
        if ch == "\\":
            out.append("\\\\")
        elif ch == ";":
            out.append("\\;")
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def octodns_record(rr: RRset) -> dict[str, Any]:
    record: dict[str, Any] = {"type": rr.type, "ttl": rr.ttl}
    if rr.type in ("A", "AAAA"):
        record["values"] = sorted(rr.values)
    elif rr.type == "CNAME":
        if len(rr.values) != 1:
            raise SystemExit(f"{rr.name} CNAME has {len(rr.values)} values")
        record["value"] = rr.values[0].lower()
    elif rr.type == "MX":
        record["values"] = [
            {"preference": int(p), "exchange": e.lower()} for p, e in (v.split() for v in rr.values)
        ]
    elif rr.type == "TXT":
        record["values"] = [txt_to_octodns(v) for v in rr.values]
    return record


def write_octodns_zone(rrsets: list[RRset], domain: str, path: Path) -> None:
    import yaml

    zone: dict[str, list[dict[str, Any]]] = {}
    for rr in rrsets:
        relative = "" if rr.name == domain else rr.name[: -len(domain) - 1]
        zone.setdefault(relative, []).append(octodns_record(rr))
    doc = {k: (v[0] if len(v) == 1 else v) for k, v in sorted(zone.items())}
    path.write_text(yaml.safe_dump(doc, default_flow_style=False, width=1 << 20))


def write_octodns_config(workdir: Path, domain: str, max_changes: int | None) -> Path:
    import yaml

    target: dict[str, Any] = {
        "class": "octodns_route53.Route53Provider",
        "access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    if max_changes is not None:
        target["max_changes"] = max_changes
    config = {
        "manager": {"max_workers": 1},
        "providers": {
            "export": {
                "class": "octodns.provider.yaml.YamlProvider",
                "directory": str(workdir / "zones"),
                "enforce_order": False,
                "escaped_semicolons": True,
            },
            "route53": target,
        },
        "zones": {domain: {"sources": ["export"], "targets": ["route53"]}},
    }
    path = workdir / f"octodns-{'default' if max_changes is None else max_changes}.yaml"
    path.write_text(yaml.safe_dump(config, default_flow_style=False))
    return path


# ---------------------------------------------------------------------------------------------
# Our own (uncounted) Route 53 client: zone preparation and read-back
# ---------------------------------------------------------------------------------------------
def plain_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1")


def list_rrsets(r53: Any, zone_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "MaxItems": "300"}
    while True:
        page = r53.list_resource_record_sets(**kwargs)
        out += page["ResourceRecordSets"]
        if not page["IsTruncated"]:
            return out
        kwargs["StartRecordName"] = page["NextRecordName"]
        kwargs["StartRecordType"] = page["NextRecordType"]


def zones_named(r53: Any, domain: str) -> list[str]:
    ids = []
    for page in r53.get_paginator("list_hosted_zones").paginate():
        ids += [z["Id"] for z in page["HostedZones"] if decode_name(z["Name"]) == domain]
    return ids


def legal_batches(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Cut changes into batches within Route 53's limits (DELETE/CREATE count once)."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    values = chars = 0
    for change in changes:
        rrs = change["ResourceRecordSet"].get("ResourceRecords", [])
        v, c = len(rrs), sum(len(r["Value"]) for r in rrs)
        if batch and (values + v > ROUTE53_MAX_VALUES or chars + c > ROUTE53_MAX_CHARS):
            batches.append(batch)
            batch, values, chars = [], 0, 0
        batch.append(change)
        values += v
        chars += c
    if batch:
        batches.append(batch)
    return batches


def fresh_zone(r53: Any, domain: str) -> str:
    """Empty and delete every hosted zone named domain, then create one empty zone."""
    for zone_id in zones_named(r53, domain):
        deletes = [
            {"Action": "DELETE", "ResourceRecordSet": rr}
            for rr in list_rrsets(r53, zone_id)
            if not (decode_name(rr["Name"]) == domain and rr["Type"] in ("SOA", "NS"))
        ]
        t0 = time.perf_counter()
        batches = legal_batches(deletes)
        for batch in batches:
            r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": batch})
        r53.delete_hosted_zone(Id=zone_id)
        say(
            f"  deleted zone {zone_id} ({len(deletes)} RRsets in {len(batches)} batches, "
            f"{time.perf_counter() - t0:.1f} s)"
        )
    zone = r53.create_hosted_zone(Name=domain, CallerReference=f"octodns-bench-{uuid.uuid4()}")
    return zone["HostedZone"]["Id"]


def compare_with_export(
    r53: Any, zone_id: str, domain: str, export: list[RRset]
) -> tuple[list[str], int]:
    """Differences between the zone (less apex SOA/NS) and the export; also TXT re-cuts."""
    want = {(rr.name, rr.type): rr for rr in export}
    have: dict[tuple[str, str], RRset] = {}
    problems: list[str] = []
    for rr in list_rrsets(r53, zone_id):
        name, rtype = decode_name(rr["Name"]), rr["Type"]
        if name == domain and rtype in ("SOA", "NS"):
            continue
        if rtype not in SIMPLE_TYPES or "ResourceRecords" not in rr:
            problems.append(f"unexpected {rr['Name']} {rtype}")
            continue
        have[(name, rtype)] = RRset(
            name, rtype, int(rr["TTL"]), [v["Value"] for v in rr["ResourceRecords"]]
        )
    recut = 0
    for key in sorted(want.keys() | have.keys()):
        w, h = want.get(key), have.get(key)
        if w is None:
            problems.append(f"extra {key[0]} {key[1]}")
        elif h is None:
            problems.append(f"missing {key[0]} {key[1]}")
        elif w.canonical() != h.canonical():
            if (
                key[1] == "TXT"
                and w.ttl == h.ttl
                and sorted(b"".join(txt_strings(v)) for v in w.values)
                == sorted(b"".join(txt_strings(v)) for v in h.values)
            ):
                recut += 1
            problems.append(
                f"differs {key[0]} {key[1]}: want {w.ttl} {w.values} have {h.ttl} {h.values}"
            )
    return problems, recut


# ---------------------------------------------------------------------------------------------
# Counting octoDNS's calls
# ---------------------------------------------------------------------------------------------
@dataclass
class CallStats:
    calls: Counter = field(default_factory=Counter)
    http_attempts: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    batches: list[tuple[int, int]] = field(default_factory=list)  # (values, chars), UPSERT x2
    illegal: int = 0

    def register(self, client: Any, allowed_netloc: str) -> None:
        events = client.meta.events
        service = client.meta.service_model.service_id.hyphenize()

        def before_call(model: Any, **_: Any) -> None:
            self.calls[model.name] += 1

        def check_batch(params: dict[str, Any], **_: Any) -> None:
            values = chars = 0
            for change in params["ChangeBatch"]["Changes"]:
                weight = 2 if change["Action"] == "UPSERT" else 1
                rrs = change["ResourceRecordSet"].get("ResourceRecords", [])
                values += weight * len(rrs)
                chars += weight * sum(len(r["Value"]) for r in rrs)
            self.batches.append((values, chars))
            if values > ROUTE53_MAX_VALUES or chars > ROUTE53_MAX_CHARS:
                self.illegal += 1

        def needs_retry(
            response: Any = None, caught_exception: Any = None, operation: Any = None, **_: Any
        ) -> None:
            self.http_attempts += 1
            status = response[0].status_code if response is not None else None
            if status is None or status >= 400:
                self.failed += 1
                code = response[1].get("Error", {}).get("Code") if response is not None else None
                what = code or status or type(caught_exception).__name__
                self.failures[f"{operation.name if operation else '?'}:{what}"] += 1

        def only_loopback(request: Any, **_: Any) -> None:
            netloc = urlsplit(request.url).netloc.lower()
            if netloc != allowed_netloc:
                raise RuntimeError(f"refusing to send a request to {request.url}")

        events.register(f"before-call.{service}", before_call)
        events.register(f"before-parameter-build.{service}.ChangeResourceRecordSets", check_batch)
        events.register(f"needs-retry.{service}", needs_retry)
        events.register(f"before-send.{service}", only_loopback)


def run_octodns(config: Path, domain: str, allowed_netloc: str) -> tuple[CallStats, float]:
    from octodns.manager import Manager

    manager = Manager(str(config))
    provider = manager.providers["route53"]
    stats = CallStats()
    stats.register(provider._conn, allowed_netloc)  # the provider's one boto3 client
    t0 = time.perf_counter()
    manager.sync(eligible_zones=[domain], dry_run=False, plan_output_fh=io.StringIO())
    return stats, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--zone-file", required=True, type=Path, help="list-resource-record-sets JSON"
    )
    parser.add_argument("--domain", required=True, help="the zone, e.g. bench.example.")
    parser.add_argument(
        "--workdir", type=Path, help="keep the octoDNS config here (default: a temp dir)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="octoDNS's INFO log on stderr")
    args = parser.parse_args()

    allowed_netloc = loopback_endpoint(args.endpoint)
    endpoint = args.endpoint.rstrip("/")
    isolate_aws_environment(endpoint)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)

    domain = decode_name(args.domain)
    export, skipped = load_export(args.zone_file, domain)
    n_values = sum(len(rr.values) for rr in export)
    n_chars = sum(len(v) for rr in export for v in rr.values)
    by_type = Counter(rr.type for rr in export)
    types = ", ".join(f"{n} {t}" for t, n in sorted(by_type.items()))
    say(
        f"export {args.zone_file}: {len(export)} RRsets ({types}), {n_values} values, "
        f"{n_chars} characters; {skipped} apex SOA/NS skipped"
    )
    lower_bound = max(-(-n_values // ROUTE53_MAX_VALUES), -(-n_chars // ROUTE53_MAX_CHARS))
    say(f"lower bound for legal batches: {lower_bound} change calls")

    tmp = None
    if args.workdir:
        workdir = args.workdir
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="octodns-bench-")
        workdir = Path(tmp.name)
    (workdir / "zones").mkdir(exist_ok=True)
    write_octodns_zone(export, domain, workdir / "zones" / f"{domain}yaml")

    r53 = plain_client(endpoint)
    results = []
    mismatched_runs = 0
    zone_id = ""
    for label, max_changes, fresh in RUNS:
        say(f"run {label}:")
        if fresh or not zone_id:
            zone_id = fresh_zone(r53, domain)
            say(f"  fresh zone {zone_id}")
        config = write_octodns_config(workdir, domain, max_changes)
        stats, wall = run_octodns(config, domain, allowed_netloc)
        problems, recut = compare_with_export(r53, zone_id, domain, export)
        if problems:
            mismatched_runs += 1
        change_calls = stats.calls["ChangeResourceRecordSets"]
        run = {
            "label": label,
            "change_calls": change_calls,
            "list_calls": stats.calls["ListResourceRecordSets"],
            "failed_calls": stats.failed,
            "illegal_batches": stats.illegal,
            "max_batch_values": max((v for v, _ in stats.batches), default=0),
            "max_batch_chars": max((c for _, c in stats.batches), default=0),
            "wall_seconds": round(wall, 3),
            "other_calls": {
                k: v
                for k, v in sorted(stats.calls.items())
                if k not in ("ChangeResourceRecordSets", "ListResourceRecordSets")
            },
            "http_attempts": stats.http_attempts,
            "batches": [list(b) for b in stats.batches],
            "records_match": not problems,
            "mismatched_rrsets": len(problems),
            "recut_txt_rrsets": recut,
        }
        results.append(run)
        over = [
            f"#{i + 1}: {v} values, {c} chars"
            for i, (v, c) in enumerate(stats.batches)
            if v > ROUTE53_MAX_VALUES or c > ROUTE53_MAX_CHARS
        ]
        say(
            f"  {change_calls} change calls, {run['list_calls']} list calls, {stats.failed} failed, "
            f"{stats.illegal} illegal batches{' (' + '; '.join(over) + ')' if over else ''}; "
            f"largest batch {run['max_batch_values']} values / {run['max_batch_chars']} chars; "
            f"other calls {run['other_calls']}; {wall:.1f} s"
        )
        if stats.failures:
            say(f"  failures: {dict(stats.failures)}")
        if problems:
            say(
                f"  WARNING: the zone differs from the export in {len(problems)} RRsets "
                f"({recut} TXT only re-cut):"
            )
            for p in problems[:10]:
                say(f"    {p}")
        else:
            say("  zone equals the export")

    if tmp is not None:
        tmp.cleanup()
    summary = {
        "runs": results,
        "zone": {
            "rrsets": len(export),
            "values": n_values,
            "chars": n_chars,
            "by_type": dict(sorted(by_type.items())),
        },
    }
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 2 if mismatched_runs else 0


if __name__ == "__main__":
    sys.exit(main())
