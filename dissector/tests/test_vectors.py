#!/usr/bin/env python3
"""Every test vector of the spec (prbgen vectors) through tshark, one TCP connection each.

Valid vectors: prb decodes them with exactly the vector's header and body field values,
and reports nothing but error statuses, TERM and unpaired responses. Invalid vectors
(except ENOMSG, which are valid PDUs of another message): expert info on every one, and
tshark finishes. Extent vectors ride in a one-extent LIST response."""

import subprocess
import sys

from prbtest import C, ROOT, SPEC, Pcap, Session, check, equal, main, pdu

import gen_wireshark  # noqa: E402 (spec/prbgen is on the path once prbtest is imported)

# Statuses, TERM, a response without its request, and the session rule that HELLO
# carries no digest (checked by the brick, not by the codec's decoders) may be reported.
ALLOWED_EXPERT = (" response: ", "TERM ", "No request with this tag seen",
                  "HELLO PDUs never carry digests")


def load_vectors(path):
    """Records of the vectors file: dicts with name, message/struct, fields, hex, pdu, expect."""
    records, cur = [], None
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key == "vector":
            cur = {"name": value, "fields": {}}
            records.append(cur)
        elif key == "field":
            name, _, v = value.partition(" ")
            cur["fields"][name] = v
        else:
            cur[key] = value
    return records


def filter_names():
    """(layout, field) -> the filter gen_wireshark gave it, from the same spec."""
    fields = gen_wireshark.Fields()
    names = {}
    for cname, owner, lay in gen_wireshark.layouts(SPEC):
        for f in lay.fields:
            if not f.reserved:
                names[(cname, f.name)] = fields.of(f, owner).filter
    return names


def wire_bytes(rec):
    """The PDU as sent, or None when the file gives only part of a valid PDU."""
    if "struct" in rec:
        return pdu("list_rsp", tag=1, count=1, payload=bytes.fromhex(rec["hex"]),
                   next_cursor=0)
    data = bytes.fromhex(rec.get("pdu", rec["hex"]))
    if rec["expect"] == "ok" and len(data) >= 8:
        plen = int.from_bytes(data[4:8], "little")
        if plen != len(data):
            return None
    return data


def expected_values(rec, names):
    layout = rec.get("message") or "extent"
    header_only = rec["fields"].get("hdr.hlen") == str(C["hdr_size"])
    out = {}
    for name, value in rec["fields"].items():
        owner, _, fname = name.rpartition(".")
        if header_only and owner != "hdr":
            continue  # an error response: the codec's zero body is not on the wire
        key = ("hdr", fname) if owner == "hdr" else (layout, fname)
        out[names[key]] = value
    return out


def same(actual: str, expected: str) -> bool:
    if len(expected) == 32 and not expected.isdigit():
        return actual.replace(":", "").lower() == expected.lower()
    try:
        return int(actual, 0) == int(expected)
    except ValueError:
        return False


def check_valid(ts, d, valid, names):
    p = Pcap()
    sent = []
    for i, rec in enumerate(valid):
        data = wire_bytes(rec)
        if data is None:
            continue
        Session(p, cport=10000 + i).send(data)
        sent.append(rec)
    path = d / "valid.pcap"
    p.write(path)
    filters = sorted({f for rec in sent for f in expected_values(rec, names)} - {"prb.magic"})
    rows = ts.fields(path, ["prb.magic", "_ws.expert.message", *filters], "-E", "occurrence=f")
    equal(len(rows), len(sent), "frames of valid vectors")
    for rec, row in zip(sent, rows):
        check(row[0] != "", f"{rec['name']}: not decoded as prb: {row}")
        got = dict(zip(filters, row[2:]), **{"prb.magic": row[0]})
        for f, v in expected_values(rec, names).items():
            check(same(got[f], v), f"{rec['name']}: {f} = {got[f]!r}, vector says {v}")
        for msg in filter(None, row[1].split(",")):
            check(any(a in msg for a in ALLOWED_EXPERT),
                  f"{rec['name']}: unexpected expert info '{msg}'")
    print(f"valid vectors: {len(sent)} decoded with their exact field values "
          f"({len(valid) - len(sent)} with a large payload not given in the file)")


def check_invalid(ts, d, invalid):
    p = Pcap()
    for i, rec in enumerate(invalid):
        Session(p, cport=10000 + i).send(bytes.fromhex(rec["hex"]) or b"\0")
    path = d / "invalid.pcap"
    p.write(path)
    # Without reassembly a PDU shorter than its plen is dissected as far as it goes.
    rows = ts.fields(path, ["frame.protocols", "_ws.expert.message"], "-o", "prb.desegment:FALSE")
    equal(len(rows), len(invalid), "frames of invalid vectors")
    silent = []
    for rec, (protocols, experts) in zip(invalid, rows):
        short = len(rec["hex"]) // 2 < C["hdr_size"]
        if experts == "" and not short:
            silent.append(rec["name"])
    check(not silent, f"invalid vectors without expert info: {silent}")
    print(f"invalid vectors: {len(invalid)} each reported (those under 16 bytes are not a "
          f"PDU yet), tshark finished")


def test(ts, d):
    vectors = d / "vectors.txt"
    subprocess.run([sys.executable, str(ROOT / "spec/prbgen/prbgen.py"), "vectors", "--out",
                    str(vectors)], check=True)
    records = load_vectors(vectors)
    check(len(records) > 0, f"{vectors} holds no vector: has gen_vectors.py landed?")
    names = filter_names()
    # A 'struct hdr' record is the header decoded on its own (its plen announces bytes
    # that are not in the record): the message vectors carry those headers whole.
    valid = [r for r in records if r["expect"] == "ok" and r.get("struct") != "hdr"]
    invalid = [r for r in records if r["expect"] != "ok" and "message" in r
               and not r["expect"].startswith("ENOMSG")]
    check(len(valid) >= len(SPEC.messages), "a valid vector per message at least")
    check_valid(ts, d, valid, names)
    check_invalid(ts, d, invalid)


if __name__ == "__main__":
    sys.exit(main(test, sys.argv))
