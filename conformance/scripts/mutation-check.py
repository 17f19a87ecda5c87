#!/usr/bin/env python3
"""Mutation check: the conformance suite fails on every mutant target and passes on the real one.

    mutation-check.py --run-suite conformance/scripts/run-suite.sh \
        --with-target scripts/with-target.sh --conformance build/.../prb-conformance \
        --target build/.../prb-target --mutants conformance/mutants.txt \
        --mutant NAME=PATH [--mutant NAME=PATH ...] [--jobs 2] [--out DIR]

Each run starts its own target on a fresh pool (with-target.sh) and runs the whole suite
with --destructive and the restart hooks, writing JUnit XML. A mutant counts as caught
when the suite exits 1 and a test matching the mutant's EXPECTED pattern failed; the
real target must pass (exit 0). Exit status 0 when all of that holds, 1 otherwise.

The pool is as large as conformance.suite's (sparse: only written blocks take disk), so
that no test skips for want of free blocks. A mutant whose EXPECTED tests are Tier.*
tests, which run only against a brick with a slower tier, runs against a target with one
(as conformance.suite.tier does), and so does a second run of the real target.
"""
import argparse
import concurrent.futures
import fnmatch
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

TARGET_ARGS = ["--pdu-timeout", "1", "--idle-timeout", "2"]
SUITE_ARGS = ["--destructive", "--require-full", "--stall-wait", "4000"]
POOL_SIZE = "3G"  # as conformance.suite (CMakeLists.txt): List.Pdu.SmallPages needs 1100 blocks
TIER_POOL_SIZE = "64M"  # as conformance.suite.tier: the fast memory Tier.* fills
TIER_ARGS = ["--tier", "@POOL_DIR@/tier", "--tier-size", POOL_SIZE]


def needs_tier(info):
    """Tier.* tests run only against a brick with a tier: so must a mutant they catch."""
    return info is not None and info["expected"].startswith("Tier.")


def read_mutants(path):
    mutants = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, source, expected, rule = line.split(None, 3)
            mutants[name] = {"file": source, "expected": expected, "rule": rule}
    return mutants


def failed_tests(xml_path):
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return None
    failed = []
    for case in root.iter("testcase"):
        if case.find("failure") is not None:
            failed.append(case.get("classname") + "." + case.get("name"))
    return failed


def run_suite(args, label, target, out_dir, tier):
    xml_path = os.path.join(out_dir, f"{label}.xml")
    log_path = os.path.join(out_dir, f"{label}.log")
    if os.path.exists(xml_path):
        os.remove(xml_path)
    env = dict(os.environ, PRB_TARGET=target,
               PRB_POOL_SIZE=TIER_POOL_SIZE if tier else POOL_SIZE)
    cmd = [args.run_suite, args.with_target, args.conformance, *TARGET_ARGS,
           *(TIER_ARGS if tier else []), "--", *SUITE_ARGS, "--xml", xml_path]
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return rc, failed_tests(xml_path), time.monotonic() - start, log_path


def judge(name, info, result):
    rc, failed, secs, log = result
    if info is None:  # the real target
        ok = rc == 0
        why = "passes" if ok else f"suite exit {rc}, failed: {', '.join(failed or []) or '?'}"
        return ok, why, secs, log
    if rc != 1 or failed is None:
        return False, f"suite could not judge it (exit {rc}); see {log}", secs, log
    hits = [t for t in failed if fnmatch.fnmatchcase(t, info["expected"])]
    if not hits:
        return False, (f"not caught by {info['expected']} (failed only: "
                       f"{', '.join(failed)})"), secs, log
    return True, f"caught by {', '.join(hits)} ({len(failed)} failed)", secs, log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-suite", required=True)
    ap.add_argument("--with-target", required=True)
    ap.add_argument("--conformance", required=True)
    ap.add_argument("--target", required=True, help="the real prb-target")
    ap.add_argument("--mutants", required=True, help="mutants.txt")
    ap.add_argument("--mutant", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per suite run")
    ap.add_argument("--out", default="mutation-results")
    args = ap.parse_args()

    table = read_mutants(args.mutants)
    binaries = dict(m.split("=", 1) for m in args.mutant)
    errors = []
    for name in sorted(set(table) - set(binaries)):
        errors.append(f"{name}: listed in {args.mutants} but no binary given")
    for name in sorted(set(binaries) - set(table)):
        errors.append(f"{name}: binary given but not listed in {args.mutants}")
    os.makedirs(args.out, exist_ok=True)

    mutants = [(n, table[n], binaries[n], needs_tier(table[n])) for n in table if n in binaries]
    runs = [("real", None, args.target, False)]
    if any(tier for *_, tier in mutants):
        runs.append(("real-tier", None, args.target, True))
    runs += mutants
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {name: pool.submit(run_suite, args, name, path, args.out, tier)
                   for name, _, path, tier in runs}
        results = {name: judge(name, info, futures[name].result())
                   for name, info, _, _ in runs}

    print(f"{'target':28} {'result':8} {'time':>6}  details")
    for name, info, _, tier in runs:
        ok, why, secs, _ = results[name]
        print(f"{name:28} {'ok' if ok else 'FAILED':8} {secs:5.1f}s  {why}"
              f"{' (with a tier)' if tier else ''}")
        if not ok:
            errors.append(f"{name}: {why}")
    reals = [n for n, i, _, _ in runs if i is None]
    caught = sum(1 for n, i, _, _ in runs if i is not None and results[n][0])
    print(f"mutation check: {caught} of {len(mutants)} mutants caught; real target "
          f"{'passes' if all(results[n][0] for n in reals) else 'FAILS'}")
    for e in errors:
        print("mutation check: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
