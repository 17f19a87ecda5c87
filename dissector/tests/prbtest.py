"""Helpers of the dissector tests: PDUs encoded from the spec, pcap files, and tshark
running with the plugin from the build tree (as an unprivileged user when run as root:
tshark ignores plugin folders for root).

Python 3 standard library only. PDUs are encoded from spec/prb.toml through prbgen's
model, so no layout is typed here either.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "spec" / "prbgen"))

import model  # noqa: E402

SPEC = model.load(ROOT / "spec" / "prb.toml")
C = {c.name: c.value for c in SPEC.constants}
NOBODY = 65534


class TestFailure(Exception):
    pass


def check(cond: bool, what: str):
    if not cond:
        raise TestFailure(what)


def equal(actual, expected, what: str):
    if actual != expected:
        raise TestFailure(f"{what}: expected {expected!r}, got {actual!r}")


# ---------------------------------------------------------------- CRC32C and PDUs

# CRC32C as the vector generator computes it (one implementation in Python).
from gen_vectors import crc32c  # noqa: E402

assert crc32c(b"123456789") == 0xE3069283

_FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


def enum_value(enum: str, name: str) -> int:
    return SPEC.enum(enum).value(name).value


def _put(buf: bytearray, f, value):
    if f.is_bytes:
        buf[f.offset:f.offset + 16] = bytes(value or bytes(16))
    else:
        struct.pack_into(_FMT[f.size], buf, f.offset, value)


def default_value(f) -> int | bytes:
    """A valid value: the spec's equals or min, else a member or 0."""
    if f.is_bytes:
        return bytes(range(16))
    if f.equals is not None:
        return f.equals
    if f.enum is not None:
        return f.enum.values[0].value
    if f.min is not None:
        return max(f.min, f.align or 0) if f.align else f.min
    return 0


def pdu(name: str, tag: int = 0, status: int = 0, flags: int = 0, payload: bytes = b"",
        plen: int | None = None, hlen: int | None = None, bad_hdgst: bool = False,
        bad_ddgst: bool = False, **fields) -> bytes:
    """Encode message name (spec order of fields; unnamed fields get valid defaults)."""
    m = SPEC.message(name)
    buf = bytearray(m.size)
    for f in m.fields:
        value = fields.pop(f.name, None)
        if value is None and not f.reserved:
            value = default_value(f)
        _put(buf, f, value or 0)
    if fields:
        raise KeyError(f"{name} has no field {', '.join(fields)}")
    return _frame(buf, m.opcode_byte, tag, status, flags, payload, plen, hlen, bad_hdgst,
                  bad_ddgst)


def error_rsp(request: str, tag: int, status: str, flags: int = 0) -> bytes:
    """The header-only error response to the request message named request."""
    byte = SPEC.message(request).opcode_byte | C["opcode_response"]
    return _frame(bytearray(C["hdr_size"]), byte, tag, enum_value("status", status), flags,
                  b"", None, None, False, False)


def raw_header(opcode_byte: int, tag: int = 0, status: int = 0, flags: int = 0,
               hlen: int = 16, plen: int = 16, magic: int | None = None) -> bytes:
    return struct.pack("<HBBIIHH", C["magic"] if magic is None else magic, opcode_byte, flags,
                       plen, tag, status, hlen)


def _frame(buf: bytearray, opcode_byte: int, tag: int, status: int, flags: int, payload: bytes,
           plen, hlen, bad_hdgst: bool, bad_ddgst: bool) -> bytes:
    hdgst = C["hdgst_size"] if flags & enum_value("hdr_flags", "HDGST") else 0
    ddgst = C["ddgst_size"] if flags & enum_value("hdr_flags", "DDGST") else 0
    total = len(buf) + hdgst + len(payload) + ddgst
    struct.pack_into("<HBBIIHH", buf, 0, C["magic"], opcode_byte, flags,
                     total if plen is None else plen, tag, status,
                     len(buf) if hlen is None else hlen)
    out = bytes(buf)
    if hdgst:
        out += struct.pack("<II", crc32c(out) ^ (1 if bad_hdgst else 0), 0)
    out += payload
    if ddgst:
        out += struct.pack("<I", crc32c(payload) ^ (1 if bad_ddgst else 0))
    return out


def extent(addr: int, blocks: int, state: str = "RESIDENT") -> bytes:
    s = SPEC.struct("extent")
    buf = bytearray(s.size)
    values = {"addr": addr, "blocks": blocks, "state": enum_value("extent_state", state)}
    for f in s.fields:
        _put(buf, f, values.get(f.name, 0))
    return bytes(buf)


# ---------------------------------------------------------------- pcap files

def _ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Pcap:
    """Ethernet/IPv4 frames written to a classic pcap file; TCP flows keep their sequence."""

    def __init__(self):
        self.packets: list[tuple[float, bytes]] = []
        self.seq: dict[tuple, int] = {}
        self.time = 1_700_000_000.0

    def frame_ip(self, proto: int, src: str, dst: str, body: bytes) -> bytes:
        """An Ethernet frame carrying an IPv4 packet of protocol proto."""
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), len(self.packets) & 0xFFFF,
                          0x4000, 64, proto, 0, bytes(map(int, src.split("."))),
                          bytes(map(int, dst.split("."))))
        hdr = hdr[:10] + struct.pack("!H", _ip_checksum(hdr)) + hdr[12:]
        eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
        return eth + hdr + body

    def add(self, frame: bytes, gap: float = 0.001):
        self.time += gap
        self.packets.append((self.time, frame))

    def tcp(self, src: str, sport: int, dst: str, dport: int, data: bytes, gap: float = 0.001):
        """One TCP segment carrying data (the flow's next bytes)."""
        key = (src, sport, dst, dport)
        seq = self.seq.setdefault(key, 1000)
        ack = self.seq.setdefault((dst, dport, src, sport), 1000)
        self.seq[key] = seq + len(data)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 65535, 0, 0)
        self.add(self.frame_ip(6, src, dst, tcp + data), gap)

    def write(self, path: Path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            for t, frame in self.packets:
                f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)))
                f.write(frame)
        os.chmod(path, 0o644)


class Session:
    """A TCP connection between an initiator and a brick, in one pcap."""

    def __init__(self, pcap: Pcap, port: int = C["tcp_port"], client: str = "127.0.0.1",
                 server: str = "127.0.0.1", cport: int = 40000):
        self.pcap, self.port, self.client, self.server, self.cport = pcap, port, client, server, cport

    def send(self, data: bytes, gap: float = 0.001):
        self.pcap.tcp(self.client, self.cport, self.server, self.port, data, gap)

    def recv(self, data: bytes, gap: float = 0.001):
        self.pcap.tcp(self.server, self.port, self.client, self.cport, data, gap)


# ---------------------------------------------------------------- tshark

class Tshark:
    """tshark with WIRESHARK_PLUGIN_DIR at the build tree's plugins/ folder."""

    def __init__(self, plugin_dir: str):
        # A private copy of the plugin folder, so that an unprivileged tshark can read it
        # wherever the build tree is.
        self.home = Path(tempfile.mkdtemp(prefix="prb-tshark-home-"))
        os.chmod(self.home, 0o777)
        self.plugin_dir = self.home / "plugins"
        shutil.copytree(Path(plugin_dir).resolve(), self.plugin_dir)
        for path in [self.plugin_dir, *self.plugin_dir.rglob("*")]:
            os.chmod(path, 0o755)
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            check(setpriv is not None, "running as root needs setpriv to drop privileges")
            self.prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        self.env = dict(os.environ, HOME=str(self.home), WIRESHARK_PLUGIN_DIR=str(self.plugin_dir),
                        XDG_CONFIG_HOME=str(self.home / ".config"),
                        WIRESHARK_ABORT_ON_DISSECTOR_BUG="1")

    def run(self, *args: str, check_rc: bool = True) -> str:
        cmd = self.prefix + ["tshark", *args]
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        if check_rc and r.returncode != 0:
            raise TestFailure(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def require_plugin(self):
        """Fail (never skip) when tshark did not load prb.so from the build tree."""
        plugins = self.run("-G", "plugins")
        line = next((l for l in plugins.splitlines() if l.startswith("prb.so")), None)
        check(line is not None and str(self.plugin_dir) in line,
              f"tshark did not load prb.so from {self.plugin_dir}: is the folder readable by "
              f"uid {NOBODY}?\n{plugins}")

    def fields(self, pcap: Path, fields: list[str], *extra: str) -> list[list[str]]:
        """One row per frame: each field's values, comma-separated when several."""
        args = ["-r", str(pcap), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
        for f in fields:
            args += ["-e", f]
        out = self.run(*args, *extra)
        return [line.split("\t") for line in out.splitlines()]

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="prb-dissector-test-"))
    os.chmod(d, 0o755)
    return d


def main(test, argv: list[str]) -> int:
    """Run test(tshark, workdir): exit 0 on success, 1 with the reason on failure."""
    if len(argv) < 2:
        print(f"usage: {argv[0]} PLUGIN_DIR [ARGS...]", file=sys.stderr)
        return 2
    ts = Tshark(argv[1])
    d = workdir()
    try:
        ts.require_plugin()
        test(ts, d, *argv[2:])
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print(f"(files kept in {d})", file=sys.stderr)
        return 1
    finally:
        ts.cleanup()
    shutil.rmtree(d, ignore_errors=True)
    print("PASS")
    return 0
