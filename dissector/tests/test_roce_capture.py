#!/usr/bin/env python3
"""The RDMA heuristics on a real RoCEv2 capture (issues 6 and 7): the file that CTest test
rdma-vm (fixture rdma-capture) leaves in BUILD/tests/rdma/prb-roce.pcapng, taken with dumpcap
on veth1 inside the Soft-RoCE VM while tests/rdma/run-rdma-tests.sh (run_capture) ran

    prb info; prb alloc 0x80000000; prb bench --count 16 --size 4K --qd 1 --addr 0x80000000;
    prb list

Five rdma_cm connections, so five HELLO exchanges in CM ConnectRequest/ConnectReply private
data; bench first tries ALLOC (EEXIST: the block is there), then on its own connection (queue
depth 1) MAPs the block RW, reads it with 16 one-sided RDMA READs of 4 KiB and UNMAPs it.
Handles, rkeys and addresses are random per run: they are checked by their relations (nonzero,
the MAP response's rkey in every READ's RETH), everything else by exact value.
"""

import shutil
import sys
from pathlib import Path

from prbtest import check, enum_value, equal, main

BLOCK = 0x80000000
BLOCK_BYTES = 2 * 1024 * 1024
READS, READ_BYTES = 16, 4096
# InfiniBand BTH opcodes (RC) and CM MAD attributes.
RC_SEND_ONLY, RC_RDMA_READ_REQUEST = 4, 12
RC_RDMA_READ_RESPONSES = range(13, 17)  # first, middle, last, only
UD_SEND_ONLY = 100
CM_REQ, CM_REP = "0x0010", "0x0013"
OK, EEXIST = enum_value("status", "OK"), enum_value("status", "EEXIST")

FIELDS = ["frame.number", "frame.protocols", "_ws.col.Info", "_ws.expert.message",
          "infiniband.bth.opcode", "infiniband.mad.attributeid",
          "infiniband.reth.va", "infiniband.reth.r_key", "infiniband.reth.dmalen",
          "prb.opcode", "prb.tag", "prb.status", "prb.request_in", "prb.response_in", "prb.time",
          "prb.min_version", "prb.max_version", "prb.version", "prb.queue_depth", "prb.features",
          "prb.features.atomics", "prb.brick_id", "prb.boot_epoch", "prb.capacity_blocks",
          "prb.free_blocks", "prb.addr", "prb.blocks", "prb.map_flags", "prb.map_flags.write",
          "prb.handle", "prb.rkey", "prb.raddr", "prb.length", "prb.cursor", "prb.count",
          "prb.list_flags", "prb.list_flags.end", "prb.next_cursor",
          "prb.rdma", "prb.rdma.rkey", "prb.block", "prb.rdma.offset", "prb.rdma.length",
          "prb.map_in"]

# Capsules in capture order, one connection a line: (opcode byte, status of a response).
SESSION = [
    [(0x01, OK), (0x81, OK), (0x02, OK), (0x82, OK)],                       # prb info
    [(0x01, OK), (0x81, OK), (0x10, OK), (0x90, OK)],                       # prb alloc
    [(0x01, OK), (0x81, OK), (0x10, OK), (0x90, EEXIST)],                   # bench: ALLOC
    [(0x01, OK), (0x81, OK), (0x12, OK), (0x92, OK), (0x13, OK), (0x93, OK)],  # bench: data
    [(0x01, OK), (0x81, OK), (0x14, OK), (0x94, OK)],                       # prb list
]
# prb bench asks the brick for its --qd on both its connections (setup and data).
HELLO_DEPTHS = [128, 128, 1, 1, 128]


def hexnum(text: str) -> int:
    return int(text, 16)


def load(ts, d: Path, capture: Path) -> list[dict]:
    """The capture decoded in two passes, one dict of field values per frame."""
    check(capture.is_file(),
          f"no capture at {capture}: it is written by CTest test rdma-vm (fixture "
          f"rdma-capture, tests/rdma/run-rdma-tests.sh step 'capture'); run "
          f"ctest -R 'rdma-vm|dissector.roce_capture' without -FS/-FA so that the fixture runs "
          f"first, and see rdma-vm's output for why the file is missing")
    # dumpcap writes mode 0600: a readable copy for the unprivileged tshark.
    path = d / "prb-roce.pcapng"
    shutil.copyfile(capture, path)
    path.chmod(0o644)
    rows = [dict(zip(FIELDS, r)) for r in ts.fields(path, FIELDS, "-2")]
    print(f"{capture}: {len(rows)} frames")
    check(len(rows) > 20, f"{capture} holds only {len(rows)} frames")
    return rows


def capsules(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["prb.opcode"]]


def check_no_stray_prb(rows: list[dict]):
    """Only CM REQ/REP, SEND ONLY and READ request packets are prb's; one PDU per capsule."""
    for r in rows:
        n, bth = r["frame.number"], int(r["infiniband.bth.opcode"] or -1)
        carries = ":prb" in r["frame.protocols"]
        if bth in RC_RDMA_READ_RESPONSES:
            check(not carries and not r["prb.opcode"] and not r["prb.rdma"],
                  f"frame {n}: RDMA Read Response decoded as prb: {r['frame.protocols']} "
                  f"opcode {r['prb.opcode']!r}")
        if r["prb.opcode"]:
            check("," not in r["prb.opcode"], f"frame {n}: several PDUs: {r['prb.opcode']}")
            ok = (bth == RC_SEND_ONLY or
                  (bth == UD_SEND_ONLY and r["infiniband.mad.attributeid"] in (CM_REQ, CM_REP)))
            check(ok, f"frame {n}: capsule in BTH opcode {bth} "
                      f"(MAD attribute {r['infiniband.mad.attributeid']!r})")
        if carries:
            check(r["frame.protocols"].endswith(":infiniband:prb"),
                  f"frame {n}: prb not on top of InfiniBand: {r['frame.protocols']}")
            check(bool(r["prb.opcode"]) != bool(r["prb.rdma"]),
                  f"frame {n}: prb frame neither capsule nor RDMA access (or both)")
    responses = [r for r in rows if int(r["infiniband.bth.opcode"] or -1)
                 in RC_RDMA_READ_RESPONSES]
    equal(len(responses), READS, "RDMA Read Response packets (one per 4 KiB READ)")
    print(f"no prb decoded from the {len(responses)} RDMA Read Response packets")


def split_connections(caps: list[dict]) -> list[list[dict]]:
    """Capsules grouped per rdma_cm connection: each starts with a HELLO request."""
    conns: list[list[dict]] = []
    for r in caps:
        if r["prb.opcode"] == "0x01":
            conns.append([])
        check(bool(conns), f"frame {r['frame.number']}: capsule before the first HELLO")
        conns[-1].append(r)
    return conns


def check_session(caps: list[dict]):
    """Every capsule's opcode and status, in order, and the pairing links between them."""
    seen = [[(hexnum(r["prb.opcode"]), int(r["prb.status"])) for r in c]
            for c in split_connections(caps)]
    equal(seen, SESSION, "capsules per connection (opcode, status)")
    frames = {int(r["frame.number"]): r for r in caps}
    for c in split_connections(caps):
        for req, rsp in zip(c[0::2], c[1::2]):
            what = f"{req['_ws.col.Info']} (frames {req['frame.number']}, {rsp['frame.number']})"
            equal(hexnum(rsp["prb.opcode"]), hexnum(req["prb.opcode"]) | 0x80,
                  f"{what}: response follows its request")
            equal(rsp["prb.tag"], req["prb.tag"], f"{what}: tags")
            equal(rsp["prb.request_in"], req["frame.number"], f"{what}: response's request_in")
            equal(req["prb.response_in"], rsp["frame.number"], f"{what}: request's response_in")
            equal(req["prb.request_in"] + rsp["prb.response_in"], "", f"{what}: no stray link")
            check(rsp["prb.time"] != "" and float(rsp["prb.time"]) >= 0,
                  f"{what}: service time {rsp['prb.time']!r}")
    check(all(int(r["prb.request_in"] or r["prb.response_in"]) in frames for r in caps),
          "every capsule links to another capsule")
    print(f"{len(caps)} capsules in {len(SESSION)} connections, each request paired with "
          f"its response both ways")


def check_hello(caps: list[dict]):
    """HELLO request in CM ConnectRequest, response in ConnectReply private data."""
    conns = split_connections(caps)
    for c, depth in zip(conns, HELLO_DEPTHS):
        req, rsp = c[0], c[1]
        n = req["frame.number"]
        equal((req["infiniband.mad.attributeid"], rsp["infiniband.mad.attributeid"]),
              (CM_REQ, CM_REP), f"HELLO of frame {n}: CM ConnectRequest / ConnectReply")
        equal((req["prb.tag"], req["prb.min_version"], req["prb.max_version"],
               req["prb.queue_depth"], req["prb.features"], req["prb.features.atomics"]),
              ("0", "1", "1", str(depth), "0x00000004", "1"), f"HELLO request of frame {n}")
        equal((rsp["prb.tag"], rsp["prb.version"], rsp["prb.queue_depth"], rsp["prb.features"],
               rsp["prb.features.atomics"]),
              ("0", "1", str(depth), "0x00000004", "1"), f"HELLO response to frame {n}")
        check(hexnum(rsp["prb.brick_id"]) != 0, f"HELLO response to frame {n}: brick_id")
    first = conns[0][1]
    check(all(c[1]["prb.brick_id"] == first["prb.brick_id"] and
              c[1]["prb.boot_epoch"] == first["prb.boot_epoch"] for c in conns),
          "one brick: same brick_id and boot_epoch in every HELLO response")
    print(f"HELLO in CM REQ/REP private data: queue depths {HELLO_DEPTHS}, ATOMICS granted")
    return first


def check_control(caps: list[dict], hello_rsp: dict) -> dict:
    """INFO, ALLOC twice, MAP, UNMAP and LIST field by field; returns the MAP response."""
    info, alloc, again, data, lst = split_connections(caps)
    rsp = info[3]
    equal((rsp["prb.brick_id"], rsp["prb.boot_epoch"]),
          (hello_rsp["prb.brick_id"], hello_rsp["prb.boot_epoch"]), "INFO names the brick")
    check(0 < int(rsp["prb.free_blocks"]) <= int(rsp["prb.capacity_blocks"]),
          f"INFO blocks: {rsp['prb.free_blocks']} free of {rsp['prb.capacity_blocks']}")
    for conn, status in ((alloc, "OK"), (again, "EEXIST")):
        equal((conn[2]["prb.addr"], conn[2]["prb.blocks"]), (f"0x{BLOCK:016x}", "1"),
              f"ALLOC request ({status})")
        equal(conn[3]["_ws.col.Info"], f"ALLOC 0x{BLOCK:x} x1 -> {status}",
              f"ALLOC response Info ({status})")
    map_req, map_rsp, unmap_req, unmap_rsp = data[2:]
    equal((map_req["prb.addr"], map_req["prb.map_flags"], map_req["prb.map_flags.write"]),
          (f"0x{BLOCK:016x}", "0x00000001", "1"), "MAP request: the block, RW")
    rkey, raddr, handle = (hexnum(map_rsp[f]) for f in ("prb.rkey", "prb.raddr", "prb.handle"))
    check(rkey != 0 and raddr != 0 and handle != 0,
          f"MAP response: rkey 0x{rkey:x}, raddr 0x{raddr:x}, handle 0x{handle:x} all nonzero")
    equal((map_rsp["prb.length"], map_rsp["prb.block"]), (str(BLOCK_BYTES), f"0x{BLOCK:016x}"),
          "MAP response: length and block")
    equal(map_rsp["_ws.col.Info"],
          f"MAP 0x{BLOCK:x} RW -> handle 0x{handle:x} rkey 0x{rkey:x} raddr 0x{raddr:x}",
          "MAP response Info")
    equal((unmap_req["prb.handle"], unmap_req["prb.block"], unmap_req["prb.map_in"]),
          (map_rsp["prb.handle"], f"0x{BLOCK:016x}", map_rsp["frame.number"]),
          "UNMAP request: the MAP's handle, block and MAP frame")
    equal(unmap_rsp["_ws.col.Info"], f"UNMAP handle 0x{handle:x} -> OK", "UNMAP response Info")
    rsp = lst[3]
    equal((lst[2]["prb.cursor"], rsp["prb.count"], rsp["prb.addr"], rsp["prb.blocks"],
           rsp["prb.list_flags"], rsp["prb.list_flags.end"], rsp["prb.next_cursor"]),
          ("0x0000000000000000", "1", f"0x{BLOCK:016x}", "1", "0x00000001", "1",
           f"0x{BLOCK + BLOCK_BYTES:016x}"), "LIST: one extent, END")
    print(f"INFO, ALLOC OK then EEXIST, MAP RW (rkey 0x{rkey:x}, raddr 0x{raddr:x}), "
          f"UNMAP OK, LIST 1 extent END")
    return map_rsp


def check_reads(rows: list[dict], map_rsp: dict, unmap_frame: int):
    """Every RDMA READ request carries the MAP's rkey and is annotated with its mapping."""
    reads = [r for r in rows if r["infiniband.bth.opcode"] == str(RC_RDMA_READ_REQUEST)]
    equal(len(reads), READS, "RDMA Read Request packets")
    rkey, raddr = hexnum(map_rsp["prb.rkey"]), hexnum(map_rsp["prb.raddr"])
    for i, r in enumerate(reads):
        n, offset = int(r["frame.number"]), i * READ_BYTES
        check(int(map_rsp["frame.number"]) < n < unmap_frame,
              f"READ in frame {n} between the MAP response and the UNMAP")
        equal((hexnum(r["infiniband.reth.r_key"]), hexnum(r["infiniband.reth.va"]),
               r["infiniband.reth.dmalen"]), (rkey, raddr + offset, str(READ_BYTES)),
              f"frame {n}: RETH (MAP rkey, raddr + offset)")
        equal((r["prb.rdma.rkey"], r["prb.block"], r["prb.rdma.offset"], r["prb.rdma.length"],
               r["prb.map_in"]),
              (map_rsp["prb.rkey"], f"0x{BLOCK:016x}", f"0x{offset:016x}", str(READ_BYTES),
               map_rsp["frame.number"]), f"frame {n}: prb RDMA access annotation")
        check(r["_ws.col.Info"].endswith(
            f"[prb RDMA READ block 0x{BLOCK:x} +0x{offset:x} len {READ_BYTES}]"),
            f"frame {n}: Info {r['_ws.col.Info']!r}")
        equal(r["_ws.expert.message"], "", f"frame {n}: expert info")
    print(f"{READS} RDMA READ requests annotated: rkey 0x{rkey:x} -> block 0x{BLOCK:x}, "
          f"offsets 0x0..0x{(READS - 1) * READ_BYTES:x}, MAP in frame {map_rsp['frame.number']}")


def check_expert(rows: list[dict], caps: list[dict]):
    """The only expert info of the whole capture is the EEXIST note."""
    found = {r["frame.number"]: r["_ws.expert.message"] for r in rows if r["_ws.expert.message"]}
    eexist = split_connections(caps)[2][3]["frame.number"]
    equal(found, {eexist: "ALLOC response: EEXIST"}, "expert info in the capture")


def test(ts, d, capture: str = ""):
    check(capture != "", "usage: test_roce_capture.py PLUGIN_DIR CAPTURE")
    rows = load(ts, d, Path(capture))
    check_no_stray_prb(rows)
    caps = capsules(rows)
    check_session(caps)
    hello_rsp = check_hello(caps)
    map_rsp = check_control(caps, hello_rsp)
    unmap_frame = int(split_connections(caps)[3][4]["frame.number"])
    check_reads(rows, map_rsp, unmap_frame)
    check_expert(rows, caps)
    print("real RoCEv2 capture: capsules, HELLO in rdma_cm private data, pairing and RDMA "
          "READ annotation ok")


if __name__ == "__main__":
    sys.exit(main(test, sys.argv))
