#!/usr/bin/env python3
"""Seed corpus for fuzz_conn from the spec's test vectors (build/generated/prb-vectors.txt).

Each valid request vector becomes a seed (mode byte + PDU); one more seed chains
ALLOC, MAP and every handle operation of the vectors into one session. Handle fields
become 0, which the harness replaces by a handle a MAP returned.
usage: fuzz_seeds.py VECTORS OUTDIR
"""
import os
import sys

HELLO, ATOMICS, FIX, CHUNK_ALL = 0x01, 0x08, 0x10, 0xA0
DIGEST_MODES = {0: 0, 1: 0x02, 2: 0x04, 3: 0x06}  # hdr.flags -> HELLO asks for it
HANDLE_OPS = {0x13, 0x20, 0x21, 0x22, 0x23, 0x24}


def records(path):
    rec = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                if rec:
                    yield rec
                    rec = {}
                continue
            key, _, value = line.partition(" ")
            if key == "field":
                name, _, v = value.partition(" ")
                rec.setdefault("fields", {})[name] = v
            else:
                rec[key] = value
    if rec:
        yield rec


def main():
    vectors, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    session = {}
    n = 0
    for rec in records(vectors):
        name = rec.get("vector", "")
        if not name.split("/")[0].endswith("_req") or "/valid/" not in name:
            continue
        pdu = bytearray.fromhex(rec.get("pdu", rec.get("hex", "")))
        if len(pdu) < 16:
            continue
        flags = int(rec["fields"].get("hdr.flags", "0"))
        if pdu[2] in HANDLE_OPS and len(pdu) >= 24:
            pdu[16:24] = bytes(8)
        mode = HELLO | ATOMICS | FIX | CHUNK_ALL | DIGEST_MODES.get(flags, 0)
        if pdu[2] == 0x01:
            mode &= ~HELLO  # the HELLO vector itself goes first
        with open(os.path.join(out, "vec-%03d" % n), "wb") as f:
            f.write(bytes([mode]) + pdu)
        n += 1
        if flags == 0:
            session.setdefault(pdu[2], pdu)
    # A session: ALLOC and MAP of one address, then the handle operations, then FREE.
    chain = bytearray()
    alloc = session.get(0x10)
    if alloc:
        addr = alloc[16:24]
        alloc[24:28] = (1).to_bytes(4, "little")
        chain += alloc
        for op in (0x12, 0x21, 0x20, 0x22, 0x23, 0x24, 0x14, 0x13, 0x11):
            pdu = session.get(op)
            if pdu is None:
                continue
            pdu = bytearray(pdu)
            if op in (0x12, 0x11):
                pdu[16:24] = addr
            if op == 0x12:
                pdu[24:28] = (1).to_bytes(4, "little")  # map_flags WRITE
            chain += pdu
        with open(os.path.join(out, "session"), "wb") as f:
            f.write(bytes([HELLO | ATOMICS | FIX | CHUNK_ALL]) + chain)
    print("fuzz_seeds: %d seeds in %s" % (n + 1, out))


if __name__ == "__main__":
    main()
