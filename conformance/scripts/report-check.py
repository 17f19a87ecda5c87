#!/usr/bin/env python3
"""The suite's report names what it checked and what broke.

    report-check.py --with-target scripts/with-target.sh --conformance PRB-CONFORMANCE \
        --target PRB-TARGET [--mutant-eexist PRB-TARGET-MUTANT-EEXIST-IGNORED] \
        [--mutant-map-rw PRB-TARGET-MUTANT-MAP-RW-REFUSED]

1. Against the real target, a run without --destructive and the restart commands passes
   (exit 0) but says NOT A FULL CONFORMANCE RUN and lists the requirement IDs only the
   skipped tests check (PRB-BOOT-1, PRB-DUR-1, ...); with --require-full it exits 3.
   A test that needs more free blocks than the (64M) brick has is skipped with the number
   it needs, and the run is not full either.
2. Against the EEXIST_IGNORED mutant (ALLOC of an allocated block answers OK), the
   Digest.*.Negotiated tests fail at their EEXIST setup step: the summary and the JUnit
   failure message blame PRB-ALLOC-2, not the PRB-DGST requirements the tests cite, and
   failure lines name sources relative to the tree (conformance/tests/digest.c:N).
3. Against the MAP_RW_REFUSED mutant (a shared read-write MAP answers EBUSY), tests whose
   subject is something else fail at the MAP of the shared helpers (cf_connect_mapped,
   cf_session_map) and are blamed on PRB-MAP-5, the rule that step rests on, as setup
   failures; a test that checks PRB-MAP-5 itself is blamed on its own IDs, as a check.
Exit status 0 when all of that holds, 1 otherwise.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

# Run the suite against a target with-target.sh starts; the URL goes last.
INNER = 'exec "$0" "$@" "$PRB_URL"'


def run(args, target, suite_args):
    env = dict(os.environ, PRB_TARGET=target, PRB_POOL_SIZE="64M")
    cmd = [args.with_target, "--", "sh", "-c", INNER, args.conformance, *suite_args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    # The target's log shares stderr; the suite's report is on stdout.
    return r.returncode, r.stdout


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--with-target", required=True)
    p.add_argument("--conformance", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--mutant-eexist")
    p.add_argument("--mutant-map-rw")
    args = p.parse_args()
    problems = []

    def expect(ok, what, out=""):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            problems.append(what)
            print(out[-3000:])

    # 1. A partial run: the restart and destructive tests are skipped.
    partial = ["--test", "Alloc.Basic.*", "--test", "Durability.*",
               "--test", "Alloc.Capacity.*"]
    rc, out = run(args, args.target, partial)
    expect(rc == 0, f"partial run passes by default (exit {rc})", out)
    expect("NOT A FULL CONFORMANCE RUN" in out, "partial run says it is not full", out)
    unchecked = re.search(r"requirements? unchecked:\n  (.*)\n", out)
    ids = unchecked.group(1).split() if unchecked else []
    expect("PRB-BOOT-1" in ids and any(i.startswith("PRB-DUR-") for i in ids),
           f"partial run lists the unchecked IDs (PRB-BOOT-1, PRB-DUR-*): {ids}", out)
    expect(not any(i.startswith("PRB-ALLOC-2") for i in ids),
           "an ID a test that ran checks is not listed as unchecked", out)
    rc, out = run(args, args.target, ["--require-full", *partial])
    expect(rc == 3, f"--require-full fails a partial run with exit 3 (exit {rc})", out)
    rc, out = run(args, args.target, ["--test", "List.Pdu.SmallPages"])
    expect(rc == 0 and re.search(r"\[SKIPPED\] needs a brick with 1100 free blocks", out)
           and "NOT A FULL CONFORMANCE RUN" in out and "PRB-LIST-10" in out,
           f"a brick too small: the test says how many blocks it needs, the run is not full "
           f"and lists its IDs (exit {rc})", out)

    # 2. Blame: a broken setup step names its own requirement.
    if args.mutant_eexist:
        with tempfile.TemporaryDirectory() as tmp:
            xml = os.path.join(tmp, "r.xml")
            rc, out = run(args, args.mutant_eexist,
                          ["--test", "Digest.*.Negotiated", "--xml", xml])
            expect(rc == 1, f"the mutant fails the digest tests (exit {rc})", out)
            failed = re.findall(r"^  (Digest\.\S+) \(([^)]*)\)$", out, re.M)
            expect(len(failed) == 3 and all(b == "PRB-ALLOC-2" for _, b in failed),
                   f"summary blames PRB-ALLOC-2 only: {failed}", out)
            expect("were not reached" in out, "summary says the tests' own IDs were not reached",
                   out)
            lines = re.findall(r"^(\S+\.c):\d+: ", out, re.M)
            expect(lines and all(f == "conformance/tests/digest.c" for f in lines),
                   f"failure lines name conformance/tests/digest.c: {sorted(set(lines))}", out)
            try:
                cases = [c for c in ET.parse(xml).getroot().iter("testcase")
                         if c.find("failure") is not None]
            except (OSError, ET.ParseError) as e:
                cases = []
                print(e)
            messages = [c.find("failure").get("message") for c in cases]
            expect(len(cases) == 3 and all(m == "PRB-ALLOC-2" for m in messages),
                   f"JUnit failure messages blame PRB-ALLOC-2: {messages}")
            expect(all(c.find("failure").get("type") == "setup" for c in cases),
                   "JUnit failures are of type setup")
    # 3. Blame across the suite: the shared helpers' MAP is a setup step.
    if args.mutant_map_rw:
        setup_tests = {"Data.Bounds.Erange", "Data.ReadWrite.CrossConnection"}
        own_test, own_ids = "Map.Shared.Coexist", "PRB-MAP-5 PRB-MAP-15"
        with tempfile.TemporaryDirectory() as tmp:
            xml = os.path.join(tmp, "r.xml")
            tests = [a for t in sorted(setup_tests | {own_test}) for a in ("--test", t)]
            rc, out = run(args, args.mutant_map_rw, [*tests, "--xml", xml])
            expect(rc == 1, f"the MAP_RW_REFUSED mutant fails the tests (exit {rc})", out)
            summary = out.split("Failed (the requirements each breaks):", 1)[-1]
            failed = dict(re.findall(r"^  (\S+) \(([^)]*)\)$", summary, re.M))
            expect(all(failed.get(t) == "PRB-MAP-5" for t in setup_tests),
                   f"summary blames PRB-MAP-5 for {sorted(setup_tests)}: {failed}", out)
            expect(failed.get(own_test) == own_ids,
                   f"summary blames {own_test} on its own IDs ({own_ids}): {failed}", out)
            unreached = set(re.findall(r"^  (\S+) \([^)]*\)\n    a setup step failed", summary,
                                       re.M))
            expect(unreached == setup_tests,
                   f"own requirements not reached in exactly {sorted(setup_tests)}: "
                   f"{sorted(unreached)}", out)
            try:
                cases = {c.get("classname") + "." + c.get("name"): c.find("failure")
                         for c in ET.parse(xml).getroot().iter("testcase")}
            except (OSError, ET.ParseError) as e:
                cases = {}
                print(e)
            got = {t: (f.get("message"), f.get("type")) if f is not None else None
                   for t, f in cases.items()}
            want = {t: ("PRB-MAP-5", "setup") for t in setup_tests}
            want[own_test] = (own_ids, "check")
            expect(got == want, f"JUnit failures (message, type): {got}, expected {want}")
    print(f"report-check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
