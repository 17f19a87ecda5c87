#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check that every restart test of prb-conformance ran and passed in a run's JUnit XML.

    restart-tests-ran.py PRB-CONFORMANCE RESULTS.xml

The restart tests are those `PRB-CONFORMANCE --list` marks as needing a restart or a clean
shutdown. Each must be in the XML with neither <skipped> nor <failure>: over rdma:// they
used to be skipped (the brick came back on another port), and this keeps them from going
quietly back to that. Prints what each ran test could not check here (its "not checked
here" note). Exit status: 0 when all ran and passed, 1 otherwise.
"""
import subprocess
import sys
import xml.etree.ElementTree as ET


def restart_tests(conformance):
    """Names of the tests whose needs include restart or shutdown, from --list."""
    out = subprocess.run([conformance, "--list"], check=True, capture_output=True,
                         text=True).stdout
    names = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and {"restart", "shutdown"} & set(fields[2].split(",")):
            names.append(fields[0])
    return names


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    wanted = restart_tests(sys.argv[1])
    if not wanted:
        print("restart tests: prb-conformance --list names none", file=sys.stderr)
        return 1
    cases = {}
    for case in ET.parse(sys.argv[2]).getroot().iter("testcase"):
        cases[case.get("classname") + "." + case.get("name")] = case
    bad = 0
    for name in wanted:
        case = cases.get(name)
        if case is None:
            print(f"restart test {name}: not in the results")
            bad += 1
        elif case.find("skipped") is not None:
            print(f"restart test {name}: SKIPPED ({case.find('skipped').get('message')})")
            bad += 1
        elif case.find("failure") is not None:
            print(f"restart test {name}: FAILED")
            bad += 1
        else:
            note = case.find("system-out")
            print(f"restart test {name}: passed"
                  + (f"; {note.text}" if note is not None and note.text else ""))
    print(f"restart tests: {len(wanted) - bad} of {len(wanted)} ran and passed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
