#!/usr/bin/env python3
"""Every requirement ID of spec/PROTOCOL.md is checked by a conformance test or exempted.

    coverage-check.py --protocol spec/PROTOCOL.md --exempt conformance/exempt.txt \
        --tool build/conformance/prb-conformance

The IDs the tests cite come from `prb-conformance --list`, so this reads the real
registration table. Fails (exit 1) when an ID is neither cited nor exempted with a
reason, when a test cites an ID that PROTOCOL.md does not define, when the exemption
file names an unknown ID or gives no reason, or when an ID is both cited and exempted.
"""
import argparse
import re
import subprocess
import sys

ID = re.compile(r"\[(PRB-[A-Z]+-[0-9]+)\]")
BARE_ID = re.compile(r"\bPRB-[A-Z]+-[0-9]+\b")


def spec_ids(path):
    with open(path, encoding="utf-8") as f:
        return set(ID.findall(f.read()))


def cited_ids(tool):
    out = subprocess.run([tool, "--list"], check=True, capture_output=True, text=True).stdout
    cited = {}
    for line in out.splitlines():
        fields = line.split()
        if not fields:
            continue
        for rid in BARE_ID.findall(line):
            cited.setdefault(rid, []).append(fields[0])
    return cited


def exemptions(path):
    """Lines `PRB-X-1 [PRB-X-2 ...]: reason`; '#' starts a comment."""
    exempt, errors = {}, []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            ids, sep, reason = line.partition(":")
            found = BARE_ID.findall(ids)
            if not sep or not reason.strip() or not found:
                errors.append(f"{path}:{n}: expected 'PRB-AREA-N ...: reason'")
                continue
            for rid in found:
                if rid in exempt:
                    errors.append(f"{path}:{n}: {rid} exempted twice")
                exempt[rid] = reason.strip()
    return exempt, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", required=True)
    ap.add_argument("--exempt", required=True)
    ap.add_argument("--tool", required=True)
    args = ap.parse_args()

    spec = spec_ids(args.protocol)
    cited = cited_ids(args.tool)
    exempt, errors = exemptions(args.exempt)
    for rid in sorted(set(cited) - spec):
        errors.append(f"{rid} cited by {', '.join(cited[rid])} is not in {args.protocol}")
    for rid in sorted(set(exempt) - spec):
        errors.append(f"{rid} in {args.exempt} is not in {args.protocol}")
    for rid in sorted(set(exempt) & set(cited)):
        errors.append(f"{rid} is both exempted and cited by {', '.join(cited[rid])}")
    missing = sorted(spec - set(cited) - set(exempt))
    for rid in missing:
        errors.append(f"{rid} is neither cited by a test nor exempted")
    print(f"coverage: {len(spec)} requirements in {args.protocol}: "
          f"{len(spec & set(cited))} cited by tests, {len(spec & set(exempt))} exempted, "
          f"{len(missing)} uncovered")
    for e in errors:
        print("coverage: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
