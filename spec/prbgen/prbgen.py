#!/usr/bin/env python3
"""prbgen: generate prb's codec, doc tables, test vectors and dissector tables
from spec/prb.toml.

  prbgen.py c --out DIR            DIR/prb/wire.h and DIR/wire.c (libprbwire)
  prbgen.py vectors --out FILE     test vectors (plain text)
  prbgen.py doc --check FILE       fail (with a diff) when FILE's generated tables drift,
                                   a table is missing or a MUST lacks its requirement ID
  prbgen.py doc --update FILE      rewrite FILE's generated tables
  prbgen.py wireshark --out FILE   dissector tables (when gen_wireshark.py is present)
  prbgen.py check                  only load and check the spec

Single-file outputs are registered in OUTPUTS: a module gen_<name>.py exposing
`generate(spec: Spec) -> str` returns the body, and this CLI adds the banner and
writes the file only when its content changed. A listed module that is absent is
skipped (gen_wireshark.py arrives with the dissector).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model import Spec, SpecError, default_spec_path, load  # noqa: E402
from output import banner, write_if_changed  # noqa: E402

# subcommand -> (module, comment style of the file it writes)
OUTPUTS = {
    "vectors": ("gen_vectors", "#"),
    "wireshark": ("gen_wireshark", "c"),
}


def available_outputs() -> dict:
    found = {}
    for command, (module, style) in OUTPUTS.items():
        try:
            found[command] = (importlib.import_module(module), style)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
    return found


def run_c(spec: Spec, args) -> int:
    import gen_c
    for rel, body in gen_c.generate(spec).items():
        write_if_changed(Path(args.out) / rel, banner("c") + body)
    return 0


def run_doc(spec: Spec, args) -> int:
    import gen_md
    if args.update:
        return gen_md.update(spec, Path(args.update))
    return gen_md.check(spec, Path(args.check))


def single_output(module, style):
    def run(spec: Spec, args) -> int:
        write_if_changed(args.out, banner(style) + module.generate(spec))
        return 0
    return run


def parser(outputs: dict) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prbgen", description=__doc__.splitlines()[0])
    p.add_argument("--spec", default=str(default_spec_path()), help="the spec (spec/prb.toml)")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("c", help="the C codec: DIR/prb/wire.h, DIR/wire.c")
    c.add_argument("--out", required=True, metavar="DIR")
    c.set_defaults(run=run_c)
    doc = sub.add_parser("doc", help="the Markdown tables of PROTOCOL.md")
    mode = doc.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="FILE")
    mode.add_argument("--update", metavar="FILE")
    doc.set_defaults(run=run_doc)
    for command, (module, style) in outputs.items():
        s = sub.add_parser(command, help=(module.__doc__ or command).strip().splitlines()[0])
        s.add_argument("--out", required=True, metavar="FILE")
        s.set_defaults(run=single_output(module, style))
    check = sub.add_parser("check", help="only check the spec")
    check.set_defaults(run=lambda spec, args: 0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser(available_outputs()).parse_args(argv)
    try:
        spec = load(args.spec)
    except SpecError as e:
        print(f"prbgen: {e}", file=sys.stderr)
        return 1
    return args.run(spec, args)


if __name__ == "__main__":
    sys.exit(main())
