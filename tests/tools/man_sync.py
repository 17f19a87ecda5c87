#!/usr/bin/env python3
"""Check that a man page documents every long option a program's --help lists.

    man_sync.py PROGRAM MANPAGE

Exit status 0 when every --option of `PROGRAM --help` appears in MANPAGE (groff's
\\- read as -), 1 with the missing ones listed, 2 on usage.
"""
import re
import subprocess
import sys


def long_options(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    program, man_path = argv[1], argv[2]
    out = subprocess.run([program, "--help"], capture_output=True, text=True, check=False)
    help_text = out.stdout + out.stderr
    if out.returncode != 0:
        print(f"man_sync: {program} --help exited {out.returncode}", file=sys.stderr)
        return 1
    with open(man_path, encoding="utf-8") as f:
        man = f.read().replace("\\-", "-")
    options = long_options(help_text)
    if not options:
        print(f"man_sync: no --options found in {program} --help", file=sys.stderr)
        return 1
    missing = sorted(o for o in options if o not in long_options(man))
    for opt in missing:
        print(f"man_sync: {man_path} does not document {opt}", file=sys.stderr)
    if not missing:
        print(f"man_sync: {man_path} documents all {len(options)} options of {program} --help")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
