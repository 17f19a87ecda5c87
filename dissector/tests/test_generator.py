#!/usr/bin/env python3
"""gen_wireshark on the real spec and on spec variants: one filter per field name and type,
names the plugin registers by hand or fields of another type get qualified by message,
reserved fields share prb.reserved, every flag bit gets a boolean field."""

import copy
import sys

from prbtest import SPEC, TestFailure, check, equal

import gen_wireshark  # noqa: E402 (spec/prbgen is on the path once prbtest is imported)
from model import Field  # noqa: E402


def filters(spec) -> dict:
    fields = gen_wireshark.Fields()
    out = {}
    for cname, owner, lay in gen_wireshark.layouts(spec):
        for f in lay.fields:
            out[(cname, f.name)] = fields.of(f, owner).filter
    return out, fields


def test():
    names, fields = filters(SPEC)
    equal(names[("alloc_req", "addr")], "prb.addr", "ALLOC addr")
    equal(names[("extent", "addr")], "prb.addr", "extent addr shares ALLOC's filter")
    equal(names[("hdr", "opcode")], "prb.opcode", "header opcode")
    reserved = {v for (c, n), v in names.items() if n.startswith("reserved")}
    equal(reserved, {"prb.reserved"}, "reserved fields")
    flag_bits = {hf.filter for hf in fields.hfs if hf.ftype == "FT_BOOLEAN"}
    check("prb.map_flags.write" in flag_bits and "prb.flags.hdgst" in flag_bits, "flag bits")
    check(len({hf.filter for hf in fields.hfs}) == len(fields.hfs), "filters are unique")

    variant = copy.deepcopy(SPEC)
    msg = variant.message("map_rsp")
    clash = Field("addr", "u32", 40, 4, "addr of another type")
    taken = Field("data", "u32", 44, 4, "a name the plugin registers itself")
    msg.fields += [clash, taken]
    msg.size = 48
    names, _ = filters(variant)
    equal(names[("map_rsp", "addr")], "prb.map_rsp.addr", "same name, other type")
    equal(names[("map_rsp", "data")], "prb.map_rsp.data", "hand-registered name")
    text = gen_wireshark.generate(variant)
    check('"prb.map_rsp.addr"' in text and "PRB_HF_MAP_RSP_ADDR" in text, "generated entries")
    print("generator: shared, qualified and reserved filter names ok")


if __name__ == "__main__":
    try:
        test()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print("PASS")
