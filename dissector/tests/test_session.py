#!/usr/bin/env python3
"""A real session on loopback, captured with dumpcap and decoded by the plugin.

prb-target runs under scripts/with-target.sh; this script, re-run as the command inside it
(--client), drives the brick two ways: the `prb` tool (info, alloc, list, map, free), and a
raw client that sends every message type and provokes every error status it can (and a TERM
at the end). The client records each exchange; tshark (-2, Decode As on the target's port)
must show exactly those opcodes, tags and statuses, with every request paired to its
response and Info columns carrying the request over.

Needs root (dumpcap on lo), prb-target and the prb tool (PRB_TARGET_BIN, PRB_TOOL_BIN: CTest
sets them).
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from prbtest import (C, ROOT, SPEC, TestFailure, check, crc32c, enum_value, equal, main, pdu,
                     raw_header)

HDGST = enum_value("hdr_flags", "HDGST")
DDGST = enum_value("hdr_flags", "DDGST")
FEAT = {v.name: v.value for v in SPEC.enum("feature").values}
STATUS = {v.value: v.name for v in SPEC.enum("status").values}
BASE = 0x40000000
BLOCK = C["block_size"]


class Client:
    """A raw prb connection that records (opcode byte, tag, status) of every PDU."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.tag = 0
        self.flags = 0
        self.log: list[tuple[int, int, int]] = []
        self.infos: list[str] = []

    def recv_pdu(self) -> bytes:
        head = self._read(16)
        plen = struct.unpack_from("<I", head, 4)[0]
        return head + self._read(plen - 16)

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise TestFailure("brick closed the connection")
            out += chunk
        return out

    def call(self, name: str, payload: bytes = b"", digests: bool = True, bad_ddgst=False,
             raw: bytes | None = None, **fields):
        """Send request name (or raw bytes), return (status, response PDU)."""
        self.tag += 1
        flags = 0
        if digests:
            flags = self.flags & HDGST
            if payload:
                flags |= self.flags & DDGST
        data = raw if raw is not None else pdu(name, tag=self.tag, flags=flags, payload=payload,
                                                bad_ddgst=bad_ddgst, **fields)
        self.sock.sendall(data)
        self.log.append((data[2], struct.unpack_from("<I", data, 8)[0], 0))
        rsp = self.recv_pdu()
        status = struct.unpack_from("<H", rsp, 12)[0]
        self.log.append((rsp[2], struct.unpack_from("<I", rsp, 8)[0], status))
        return status, rsp

    def field(self, rsp: bytes, message: str, name: str) -> int:
        f = next(f for f in SPEC.message(message).fields if f.name == name)
        return int.from_bytes(rsp[f.offset:f.offset + f.size], "little")


def raw_session(host: str, port: int) -> dict:
    """Every message type and every error status the reference brick can be led to."""
    c = Client(host, port)
    want = FEAT["HDGST"] | FEAT["DDGST"] | FEAT["ATOMICS"]
    st, rsp = c.call("hello_req", digests=False, features=want, queue_depth=16,
                     max_pdu=4 << 20, min_version=1, max_version=1)
    check(st == 0, f"HELLO refused: {STATUS.get(st)}")
    granted = c.field(rsp, "hello_rsp", "features")
    c.flags = granted & (HDGST | DDGST)
    max_mappings = c.field(rsp, "hello_rsp", "max_mappings")
    expect = {}

    def call(label, name, **kw):
        st, r = c.call(name, **kw)
        expect[label] = STATUS.get(st, str(st))
        return st, r

    call("info", "info_req")
    call("keepalive", "keepalive_req")
    call("alloc", "alloc_req", addr=BASE, blocks=4)
    call("EEXIST", "alloc_req", addr=BASE, blocks=1)
    call("ENOSPC", "alloc_req", addr=1 << 40, blocks=C["max_range_blocks"])
    call("EINVAL", "alloc_req", addr=BASE + 4096, blocks=1)
    call("ENOENT", "free_req", addr=1 << 41, blocks=1)
    _, r = call("map_rw", "map_req", addr=BASE, map_flags=1)
    h1 = c.field(r, "map_rsp", "handle")
    _, r = call("map_ro", "map_req", addr=BASE + BLOCK, map_flags=0)
    h2 = c.field(r, "map_rsp", "handle")
    _, r = call("map_excl", "map_req", addr=BASE + 2 * BLOCK, map_flags=3)
    h3 = c.field(r, "map_rsp", "handle")
    call("EBUSY", "map_req", addr=BASE + 2 * BLOCK, map_flags=0)
    data = bytes((i * 7 + 1) & 0xFF for i in range(4096))
    call("write", "write_req", handle=h1, offset=0, length=len(data), payload=data)
    call("read", "read_req", handle=h1, offset=0, length=4096)
    call("flush", "flush_req", handle=h1, offset=0, length=4096)
    call("cas", "cas_req", handle=h1, offset=0, compare=0, swap=5)
    call("fadd", "fadd_req", handle=h1, offset=8, add=3)
    call("EPERM", "write_req", handle=h2, offset=0, length=8, payload=bytes(8))
    call("ERANGE", "read_req", handle=h1, offset=BLOCK - 8, length=16)
    call("ESTALE", "unmap_req", handle=0xDEAD)
    if c.flags & DDGST:
        call("EBADMSG", "write_req", handle=h1, offset=0, length=8, payload=bytes(8),
             bad_ddgst=True)
    c.tag += 1
    flags = c.flags & HDGST
    unknown = raw_header(0x55, tag=c.tag, flags=flags, plen=16 + (8 if flags else 0))
    if flags:
        unknown += struct.pack("<II", crc32c(unknown), 0)
    c.tag -= 1
    call("ENOTSUP", None, raw=unknown)
    call("list", "list_req", cursor=0, max_extents=16)
    call("unmap", "unmap_req", handle=h3)
    call("free_busy", "free_req", addr=BASE, blocks=2)
    call("free_force", "free_req", addr=BASE, blocks=2, free_flags=1)
    call("stale_after_force", "read_req", handle=h2, offset=0, length=8)
    if max_mappings <= 4096:
        call("alloc_one", "alloc_req", addr=BASE + 8 * BLOCK, blocks=1)
        for _ in range(max_mappings + 1):
            st, _ = call("ENOMEM", "map_req", addr=BASE + 8 * BLOCK, map_flags=0)
            if st != 0:
                break
    # A bad magic: the brick answers TERM BAD_HEADER and closes.
    c.sock.sendall(raw_header(0x10, magic=0x1234, plen=32, hlen=32) + bytes(16))
    c.log.append((0x10, 0, -1))
    term = c.recv_pdu()
    c.log.append((term[2], struct.unpack_from("<I", term, 8)[0], 0))
    expect["term_reason"] = struct.unpack_from("<H", term, 16)[0]
    c.sock.close()
    # Without digests: a second HELLO is refused with EPROTO (with digests negotiated the
    # brick would end the connection first, for a PDU without its header digest).
    b = Client(host, port)
    for label in ("hello", "EPROTO"):
        st, _ = b.call("hello_req", digests=False, queue_depth=4, max_pdu=C["min_max_pdu"])
        expect[label + "_b"] = STATUS.get(st, str(st))
    b.sock.close()
    return {"logs": [c.log, b.log], "expect": expect, "granted": granted}


def tool_session(url: str) -> list[str]:
    """The prb tool's subcommands against the brick, each its own connection."""
    tool = os.environ.get("PRB_TOOL_BIN", "")
    check(tool != "" and Path(tool).exists(), f"the prb tool is not built ({tool!r})")
    addr = hex(BASE + 32 * BLOCK)
    runs = [["info"], ["alloc", addr, "--count", "2"], ["alloc", addr], ["list"],
            ["map", addr, "--rw"], ["free", addr, "--count", "2"]]
    out = []
    for args in runs:
        r = subprocess.run([tool, args[0], url, *args[1:]], capture_output=True, text=True,
                           timeout=60)
        out.append(f"prb {' '.join(args)} -> exit {r.returncode}")
    return out


def client(outfile: str, port: int) -> int:
    """Inside with-target.sh: drive the brick on its second listener, 127.0.0.1:port."""
    url = f"tcp://127.0.0.1:{port}"
    result = raw_session("127.0.0.1", port)
    result["port"] = port
    result["tool"] = tool_session(url)
    Path(outfile).write_text(json.dumps(result))
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture(d: Path) -> tuple[Path, dict]:
    """dumpcap on lo, filtered on a port chosen here (other tests use lo at the same time),
    around with-target.sh running this script's client against a brick listening there."""
    pcap = d / "session.pcapng"
    target = Path(os.environ.get("PRB_TARGET_BIN", "/nonexistent/prb-target"))
    check(target.exists(), f"prb-target is not built ({target})")
    check(Path(os.environ.get("PRB_TOOL_BIN", "/nonexistent/prb")).exists(),
          "the prb tool (ref-initiator/tools) is not built")
    check(os.geteuid() == 0, "capturing on lo needs root (dumpcap)")
    port = free_port()
    cap = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-B", "64", "-f", f"tcp port {port}",
                            "-w", str(pcap)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not pcap.exists() and time.time() < deadline and cap.poll() is None:
            time.sleep(0.05)
        check(pcap.exists(), f"dumpcap did not start: {cap.stderr.read() if cap.poll() else ''}")
        time.sleep(0.3)
        result = d / "client.json"
        r = subprocess.run([str(ROOT / "scripts" / "with-target.sh"),
                            "--listen", f"tcp://127.0.0.1:{port}", "--max-mappings", "16",
                            "--", sys.executable,
                            __file__, "--client", str(result), str(port)],
                           env=dict(os.environ, PRB_TARGET=str(target)), capture_output=True,
                           text=True, timeout=240)
        check(r.returncode == 0, f"session failed ({r.returncode}): {r.stderr[-2000:]}")
        time.sleep(0.5)
    finally:
        cap.send_signal(signal.SIGTERM)
        cap.wait(timeout=30)
    os.chmod(pcap, 0o644)
    return pcap, json.loads(result.read_text())


def test(ts, d):
    pcap, res = capture(d)
    port = res["port"]
    # Other tests may use loopback at the same time: only the brick's port counts.
    decode = ["-d", f"tcp.port=={port},prb", "-2", "-Y", f"tcp.port=={port}"]
    fields = ["frame.number", "tcp.stream", "prb.opcode", "prb.tag", "prb.status",
              "prb.request_in", "prb.response_in", "_ws.col.Info", "prb.hdgst.status",
              "prb.ddgst.status"]
    rows = [dict(zip(fields, r)) for r in ts.fields(pcap, fields, *decode)]
    streams = sorted({r["tcp.stream"] for r in rows if r["prb.opcode"]}, key=int)
    check(len(streams) >= 2, f"expected two raw sessions: {streams}")
    seen_total = 0
    for stream, log in zip(streams, res["logs"]):
        stream_rows = [r for r in rows if r["tcp.stream"] == stream and r["prb.opcode"]]
        seen = []
        for r in stream_rows:
            for op, tag, st in zip(*(r[k].split(",") for k in ("prb.opcode", "prb.tag",
                                                                "prb.status"))):
                seen.append([int(op, 16), int(tag), int(st)])
        logged = [entry for entry in log if entry[2] >= 0]  # the bad-magic PDU is no prb PDU
        equal(seen, logged, f"opcode, tag and status of every PDU of stream {stream}")
        seen_total += len(seen)
    raw = [r for r in rows if r["tcp.stream"] in streams[:2] and r["prb.opcode"]]
    decoded = {int(o, 16) & ~C["opcode_response"] for r in raw for o in r["prb.opcode"].split(",")}
    missing = [v.name for v in SPEC.opcodes.values if v.value not in decoded]
    check(not missing, f"message types missing from the real session: {missing}")
    statuses_seen = {int(x) for r in raw for x in r["prb.status"].split(",") if x}
    missing = [v.name for v in SPEC.enum("status").values
               if v.value not in statuses_seen and v.name != "EIO"]  # EIO: storage failure
    check(not missing, f"statuses the real session should have provoked: {missing}")
    bad_magic = [e for log in res["logs"] for e in log if e[2] < 0]
    requests = [r for r in raw if int(r["prb.opcode"].split(",")[0], 16) < 0x80]
    unpaired = [r["frame.number"] for r in requests if not r["prb.response_in"]
                and int(r["prb.opcode"].split(",")[0], 16) != 0x7F
                and r["prb.tag"] != "0"]
    check(len(unpaired) <= len(bad_magic) + 1, f"requests without a response link: {unpaired}")
    info = "\n".join(r["_ws.col.Info"] for r in rows)
    check(f"ALLOC {BASE:#x} x1 -> EEXIST" in info, "EEXIST response Info")
    check(f"MAP {BASE:#x} RW -> handle 0x" in info, "MAP response Info")
    check("TERM BAD_HEADER" in info, "TERM from the brick decoded")
    if res["granted"] & HDGST:
        good = {s for r in raw for s in r["prb.hdgst.status"].split(",") if s}
        equal(good, {"1"}, "header digests of the real session all verified good")
    statuses = sorted({v for v in res["expect"].values() if isinstance(v, str)})
    print(f"raw sessions: {seen_total} PDUs decoded; statuses provoked: {', '.join(statuses)}")
    print("prb tool: " + "; ".join(res["tool"]))
    check(len(streams) >= 3, f"no prb tool session in the capture: {streams}")
    tool_frames = [r for r in rows if r["tcp.stream"] in streams[2:]]
    ops = {int(o, 16) for r in tool_frames for o in r["prb.opcode"].split(",") if o}
    for op in ("HELLO", "INFO", "ALLOC", "LIST", "MAP", "FREE"):
        check(enum_value("opcode", op) in ops, f"prb tool session: no {op} request decoded")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--client":
        sys.exit(client(sys.argv[2], int(sys.argv[3])))
    sys.exit(main(test, sys.argv))
