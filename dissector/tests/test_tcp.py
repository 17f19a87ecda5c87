#!/usr/bin/env python3
"""TCP binding on synthetic captures encoded from the spec: every message and every error
status, request/response pairing, Info column, digests, segmentation and coalescing, and
malformed PDUs (expert info, no crash)."""

import random
import struct
import sys

from prbtest import (SPEC, Pcap, Session, check, enum_value, equal, error_rsp, extent,
                     main, pdu, raw_header)

HDGST = enum_value("hdr_flags", "HDGST")
DDGST = enum_value("hdr_flags", "DDGST")
FIELDS = ["frame.number", "prb.opcode", "prb.status", "prb.tag", "prb.response_in",
          "prb.request_in", "_ws.col.Info", "_ws.expert.message"]


def rows_by_frame(ts, path, *extra):
    rows = ts.fields(path, FIELDS, "-2", *extra)
    return {int(r[0]): dict(zip(FIELDS[1:], r[1:])) for r in rows}


def response_of(req):
    return next(m for m in SPEC.messages
                if m.opcode.name == req.opcode.name and m.direction == "response")


def message_pair(req, tag):
    """A valid request of message req and its OK response, with payloads where they have one."""
    rsp = response_of(req)
    fields, rsp_fields = {}, {}
    payload = rsp_payload = b""
    if req.name == "write_req":
        payload = bytes(range(64))
        fields["length"] = len(payload)
    if rsp.name == "read_rsp":
        rsp_payload = b"\xab" * 32
    if rsp.name == "list_rsp":
        rsp_payload = extent(0x200000, 3) + extent(0xA00000, 1, "TIERED")
        rsp_fields = {"count": 2, "next_cursor": 0xC00000, "list_flags": 1}
    if rsp.name == "map_rsp":
        fields["addr"] = 0x200000
        rsp_fields = {"handle": 0x1122334455667788}
    return (pdu(req.name, tag=tag, payload=payload, **fields),
            pdu(rsp.name, tag=tag, payload=rsp_payload, **rsp_fields))


def every_message(ts, d):
    """Every request with its OK response, then an error response of every status, then TERM."""
    p = Pcap()
    s = Session(p)
    expected = []
    requests = [m for m in SPEC.messages if m.direction == "request"]
    for i, req in enumerate(requests):
        tag = 100 + i
        a, b = message_pair(req, tag)
        s.send(a)
        s.recv(b)
        expected += [(f"{req.opcode_byte:#04x}", "0", str(tag)),
                     (f"{response_of(req).opcode_byte:#04x}", "0", str(tag))]
    statuses = [v for v in SPEC.enum("status").values if v.value != 0]
    for i, st in enumerate(statuses):
        tag = 500 + i
        s.send(pdu("alloc_req", tag=tag, addr=0x40000000, blocks=4))
        s.recv(error_rsp("alloc_req", tag, st.name))
        expected += [("0x10", "0", str(tag)), ("0x90", str(st.value), str(tag))]
    s.recv(pdu("term", tag=0, reason=enum_value("term_reason", "SHUTDOWN")))
    path = d / "every-message.pcap"
    p.write(path)
    rows = rows_by_frame(ts, path)
    equal(len(rows), len(expected) + 1, "frames")
    for n, (op, status, tag) in enumerate(expected, 1):
        r = rows[n]
        equal((r["prb.opcode"], r["prb.status"], r["prb.tag"]), (op, status, tag), f"frame {n}")
        if n % 2:
            equal(r["prb.response_in"], str(n + 1), f"frame {n} response link")
        else:
            equal(r["prb.request_in"], str(n - 1), f"frame {n} request link")
        if status == "0":
            equal(r["_ws.expert.message"], "", f"frame {n} (valid) has no expert info")
        else:
            check(f"ALLOC response: {statuses[(n - 2 * len(requests)) // 2 - 1].name}"
                  in r["_ws.expert.message"], f"frame {n} expert: {r['_ws.expert.message']}")
    info = {n: rows[n]["_ws.col.Info"] for n in rows}
    nreq = 2 * len(requests)
    equal(info[nreq + 2], "ALLOC 0x40000000 x4 -> EEXIST", "Info of an EEXIST response")
    map_rsp = next(n for n in rows if rows[n]["prb.opcode"] == "0x92")
    equal(info[map_rsp], "MAP 0x200000 RO -> handle 0x1122334455667788", "Info of MAP response")
    last = max(rows)
    equal(rows[last]["prb.opcode"], f"{SPEC.message('term').opcode_byte:#04x}", "TERM opcode")
    check("TERM SHUTDOWN" in rows[last]["_ws.expert.message"], "TERM expert info")
    equal(info[last], "TERM SHUTDOWN at offset 0", "Info of TERM")
    srt = ts.run("-r", str(path), "-q", "-z", "prb,srt")
    calls = {line.split()[1]: int(line.split()[2]) for line in srt.splitlines()
             if line.strip()[:1].isdigit()}
    equal(calls.get("ALLOC"), 1 + len(statuses), "service response time table: ALLOC calls")
    equal(calls.get("LIST"), 1, "service response time table: LIST calls")
    print(f"every message: {len(rows)} frames, {len(requests)} request types, "
          f"{len(statuses)} error statuses")


def segmentation(ts, d):
    """Several PDUs per segment, PDUs split across segments (header split too)."""
    p = Pcap()
    s = Session(p)
    three = (pdu("alloc_req", tag=1, addr=0x200000, blocks=2)
             + pdu("free_req", tag=2, addr=0x200000, blocks=2)
             + pdu("keepalive_req", tag=3))
    s.send(three)                                         # frame 1: 3 PDUs
    s.recv(pdu("alloc_rsp", tag=1) + pdu("free_rsp", tag=2) + pdu("keepalive_rsp", tag=3))
    write = pdu("write_req", tag=4, handle=7, length=3000, payload=bytes(3000))
    s.send(write[:5])                                      # frame 3: header split
    s.send(write[5:1000])                                  # frame 4
    s.send(write[1000:2500])                               # frame 5
    tail = pdu("keepalive_req", tag=5)
    s.send(write[2500:] + tail[:7])                        # frame 6: end of WRITE + start of next
    s.send(tail[7:] + pdu("keepalive_req", tag=6))         # frame 7: end + a whole one
    path = d / "segmentation.pcap"
    p.write(path)
    rows = rows_by_frame(ts, path)
    equal(rows[1]["prb.opcode"], "0x10,0x11,0x03", "three PDUs in frame 1")
    equal(rows[1]["prb.tag"], "1,2,3", "tags in frame 1")
    equal(rows[2]["prb.request_in"], "1,1,1", "responses of frame 2 pair with frame 1")
    equal(rows[1]["prb.response_in"], "2,2,2", "requests of frame 1 answered in frame 2")
    for n in (3, 4, 5):
        equal(rows[n]["prb.opcode"], "", f"frame {n} holds only part of a PDU")
    equal(rows[6]["prb.opcode"], "0x21", "WRITE reassembled in frame 6")
    equal(rows[6]["_ws.expert.message"], "", "reassembled WRITE is valid")
    equal(rows[7]["prb.opcode"], "0x03,0x03", "split KEEPALIVE then a whole one")
    equal(rows[7]["prb.tag"], "5,6", "tags of frame 7")
    print("segmentation and coalescing: ok")


def digests(ts, d):
    """Header and data digests verified; a flipped bit reported."""
    p = Pcap()
    s = Session(p)
    s.send(pdu("write_req", tag=1, flags=HDGST | DDGST, handle=9, length=100,
               payload=bytes(range(100))))
    s.recv(pdu("write_rsp", tag=1, flags=HDGST))
    s.send(pdu("write_req", tag=2, flags=HDGST | DDGST, handle=9, length=100,
               payload=bytes(range(100)), bad_ddgst=True))
    s.recv(error_rsp("write_req", 2, "EBADMSG", flags=HDGST))
    s.send(pdu("read_req", tag=3, flags=HDGST, handle=9, length=16, bad_hdgst=True))
    path = d / "digests.pcap"
    p.write(path)
    rows = ts.fields(path, ["prb.hdgst.status", "prb.ddgst.status", "_ws.expert.message"])
    good, bad = "1", "0"
    equal(rows[0][:2], [good, good], "valid WRITE digests")
    equal(rows[1][:2], [good, ""], "WRITE response header digest")
    equal(rows[2][:2], [good, bad], "corrupted data digest")
    check("Data digest mismatch" in rows[2][2], "data digest expert info")
    equal(rows[4][0], bad, "corrupted header digest")
    check("Header digest mismatch" in rows[4][2], "header digest expert info")
    print("digests: ok")


MALFORMED = [
    # (what, bytes, expected expert text)
    ("bad magic", raw_header(0x10, magic=0x1234, plen=32, hlen=32) + bytes(16), "Bad magic"),
    ("absurd plen", raw_header(0x10, plen=0xFFFFFFF0, hlen=32) + bytes(16),
     "above the max_pdu preference"),
    ("unknown opcode", raw_header(0x55, tag=7), "Opcode 0x55 is not in the spec"),
    ("hlen not the size", pdu("alloc_req", tag=1, hlen=24, plen=24)[:24],
     "hlen 24 differs from the size of alloc_req"),
    ("hlen short of the size, plen the size", pdu("alloc_req", tag=1, hlen=24),
     "hlen 24 differs from the size of alloc_req"),
    ("plen below hlen", pdu("alloc_req", tag=1, plen=16)[:16], "plen 16 is shorter"),
    ("reserved field", pdu("alloc_req", tag=1, reserved0=5), "Reserved field reserved0"),
    ("reserved flag bit", pdu("keepalive_req", tag=1, flags=0x80), "Reserved bits of flags"),
    ("reserved map flag", pdu("map_req", tag=1, map_flags=0x100), "Reserved bits of map_flags"),
    ("enum not a member", pdu("term", reason=99), "reason = 99 is not a member"),
    ("below min", pdu("alloc_req", tag=1, blocks=0), "blocks = 0 is below its minimum 1"),
    ("unaligned", pdu("alloc_req", tag=1, addr=0x1000), "addr = 0x1000 is not a multiple"),
    ("above max", pdu("list_req", tag=1, max_extents=5000), "is above its maximum 4096"),
    ("payload length", pdu("write_req", tag=1, length=10, payload=b"abc"), "length says 10"),
    ("status in request", pdu("keepalive_req", tag=1, status=3), "Nonzero status in a request"),
    ("ddgst without payload", pdu("keepalive_req", tag=1, flags=DDGST), "DDGST set on a PDU"),
    ("digest on HELLO", pdu("hello_req", tag=1, flags=HDGST), "HELLO PDUs never carry"),
    ("error rsp with body", pdu("map_rsp", tag=1, status=3), "Error response with hlen 40"),
]


def negotiation(ts, d):
    """PDUs checked against the HELLO exchange: digest flags and queue depth."""
    p = Pcap()
    s = Session(p)
    feats = enum_value("feature", "HDGST") | enum_value("feature", "DDGST")
    s.send(pdu("hello_req", tag=1, features=feats, queue_depth=2))
    s.recv(pdu("hello_rsp", tag=1, features=feats, queue_depth=2))                # 2
    s.send(pdu("keepalive_req", tag=2, flags=HDGST))                               # 3 fine
    s.send(pdu("keepalive_req", tag=3))                                            # 4 no HDGST
    s.send(pdu("write_req", tag=4, flags=HDGST, handle=1, length=4, payload=b"abcd"))  # 5 no DDGST
    path = d / "negotiation.pcap"
    p.write(path)
    rows = ts.fields(path, ["_ws.expert.message"], "-2")
    equal(rows[2][0], "", "PDU with the negotiated digests")
    check("Digest flags 0x0 differ from those negotiated in frame 2 (0x1 here)" in rows[3][0],
          f"missing HDGST reported: {rows[3][0]}")
    check("Digest flags 0x1 differ from those negotiated in frame 2 (0x3 here)" in rows[4][0],
          f"missing DDGST reported: {rows[4][0]}")
    check("3 requests outstanding, above the queue depth 2 granted in frame 2" in rows[4][0],
          f"queue overflow reported: {rows[4][0]}")
    print("negotiated digests and queue depth: ok")


# Expert texts a case must not raise: a second complaint derived from the first.
MALFORMED_NOT = {
    # The payload of an absurd plen is not there to dissect: no exception on top.
    "absurd plen": ["Malformed Packet", "Exception occurred"],
    # With hlen wrong, the bytes after it are not "after the fixed part".
    "hlen short of the size, plen the size": ["after the fixed part"],
}


def malformed(ts, d):
    """Each malformed PDU on its own connection: the expected expert info, tshark survives."""
    p = Pcap()
    for i, (_, data, _) in enumerate(MALFORMED):
        Session(p, cport=41000 + i).send(data)
    path = d / "malformed.pcap"
    p.write(path)
    rows = ts.fields(path, ["_ws.expert.message"])
    equal(len(rows), len(MALFORMED), "frames")
    for (what, _, text), row in zip(MALFORMED, rows):
        check(text in row[0], f"{what}: expected expert info '{text}', got '{row[0]}'")
        for wrong in MALFORMED_NOT.get(what, []):
            check(wrong not in row[0], f"{what}: unexpected expert info '{wrong}' in '{row[0]}'")
    print(f"malformed: {len(MALFORMED)} cases reported")


def fuzz(ts, d):
    """Random bit flips and truncations of valid PDUs: tshark must finish, exit 0."""
    rng = random.Random(6)
    valid = []
    for i, req in enumerate(m for m in SPEC.messages if m.direction == "request"):
        valid += list(message_pair(req, i))
    p = Pcap()
    for i in range(400):
        data = bytearray(rng.choice(valid))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        if rng.random() < 0.3:
            data = data[:rng.randrange(1, len(data) + 1)]
        if len(data) >= 8 and rng.random() < 0.3:
            struct.pack_into("<I", data, 4, rng.choice([0, 1, 15, 17, 0x7FFFFFFF, len(data)]))
        Session(p, cport=20000 + i).send(bytes(data))
    path = d / "fuzz.pcap"
    p.write(path)
    out = ts.run("-r", str(path), "-2", "-V")
    check("PRB" in out or "Passive RDMA Brick" in out, "fuzzed capture decoded as prb")
    print("fuzz: 400 mutated PDUs dissected without a crash")


def other_port(ts, d):
    """A brick on another port: nothing by default, prb with Decode As or the heuristic."""
    p = Pcap()
    s = Session(p, port=9999)
    s.send(pdu("hello_req", tag=1))
    s.recv(pdu("hello_rsp", tag=1))
    path = d / "other-port.pcap"
    p.write(path)
    opcodes = lambda *extra: [r[0] for r in ts.fields(path, ["prb.opcode"], *extra)]  # noqa: E731
    equal(opcodes(), ["", ""], "port 9999 without Decode As")
    equal(opcodes("-d", "tcp.port==9999,prb"), ["0x01", "0x81"], "Decode As tcp.port 9999")
    equal(opcodes("--enable-heuristic", "prb_tcp"), ["0x01", "0x81"], "heuristic prb_tcp")
    print("Decode As and heuristic: ok")


def test(ts, d):
    other_port(ts, d)
    every_message(ts, d)
    segmentation(ts, d)
    digests(ts, d)
    negotiation(ts, d)
    malformed(ts, d)
    fuzz(ts, d)


if __name__ == "__main__":
    sys.exit(main(test, sys.argv))
