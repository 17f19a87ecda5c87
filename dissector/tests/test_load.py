#!/usr/bin/env python3
"""tshark loads the plugin: protocol prb registered, every spec field filterable as prb.*."""

import sys

from prbtest import SPEC, check, main


def expected_filters() -> set[str]:
    """prb.<name> of every non-reserved field of the header, the extent and every message,
    plus prb.<flags field>.<bit> for each flag."""
    names = set()
    for layout in [SPEC.hdr, SPEC.struct("extent"), *SPEC.messages]:
        for f in layout.fields:
            if f.reserved:
                continue
            names.add(f"prb.{f.name}")
            if f.flags:
                names.update(f"prb.{f.name}.{v.name.lower()}" for v in f.flags.values)
    return names


def test(ts, workdir):
    protocols = ts.run("-G", "protocols").splitlines()
    check(any(line.split("\t")[1:3] == ["PRB", "prb"] for line in protocols),
          "tshark -G protocols does not list prb")
    fields = {line.split("\t")[2] for line in ts.run("-G", "fields").splitlines()
              if line.startswith("F\t") and "\tprb\t" in line}
    missing = expected_filters() - fields
    check(not missing, f"fields missing from tshark -G fields: {sorted(missing)}")
    for extra in ("prb.response_in", "prb.request_in", "prb.time", "prb.hdgst", "prb.ddgst",
                  "prb.data", "prb.extent", "prb.reserved", "prb.block"):
        check(extra in fields, f"{extra} missing from tshark -G fields")
    print(f"{len(fields)} prb fields registered")


if __name__ == "__main__":
    sys.exit(main(test, sys.argv))
