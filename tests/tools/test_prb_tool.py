#!/usr/bin/env python3
"""The prb tool against a live prb-target (run by scripts/with-target.sh).

usage: test_prb_tool.py PATH-TO-prb [TEST...]
Checks every subcommand: human output, --json (parsed), --help, exit codes.
TEST names a test function without its test_ prefix (e.g. put_get); without any, the
tests of DEFAULT_TESTS run. The space tests fill the brick: CMakeLists.txt runs them on
a small pool of their own.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

PRB = sys.argv[1]
URL = os.environ["PRB_URL"]
BLK = 2 * 1024 * 1024
BASE = 3072 * BLK
failures = 0


def run(*args, stdin=None):
    p = subprocess.run([PRB, *args], input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)


def expect_rc(args, want, what=None):
    rc, out, err = run(*args)
    check(rc == want, f"{what or ' '.join(args)}: exit {rc}, want {want}\n{out}{err}")
    return out, err


def js(args, want_rc=0):
    rc, out, err = run(*args, "--json")
    check(rc == want_rc, f"{' '.join(args)} --json: exit {rc}, want {want_rc}\n{out}{err}")
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        check(False, f"{' '.join(args)} --json: not JSON ({e}): {out!r}")
        return {}


def test_help():
    out, _ = expect_rc(["--help"], 0)
    for sub in ("info", "alloc", "free", "map", "list", "put", "get", "bench"):
        check(sub in out, f"--help lists {sub}")
        o, _ = expect_rc([sub, "--help"], 0)
        check(o.startswith(f"usage: prb {sub}"), f"{sub} --help: {o[:40]!r}")
        check("--json" in o, f"{sub} --help mentions --json")
    expect_rc([], 2)
    expect_rc(["frobnicate"], 2)
    expect_rc(["alloc", URL], 2, "alloc without ADDR")
    expect_rc(["alloc", URL, "12345"], 2, "unaligned ADDR")
    expect_rc(["alloc", URL, "2M", "--count", "0"], 2, "count 0")
    expect_rc(["alloc", URL, "2M", "--count", "65537"], 2, "count too big")
    expect_rc(["alloc", "http://x", "2M"], 2, "bad URL")
    expect_rc(["info", "tcp://127.0.0.1:0"], 2, "port 0 (PRB-URL-5)")
    expect_rc(["info", "tcp://[fe80::1%lo]:7117"], 2, "IPv6 zone (section 14)")
    expect_rc(["map", URL, "2M"], 2, "map without --ro/--rw")
    expect_rc(["map", URL, "2M", "--ro", "--rw"], 2, "map --ro --rw")
    expect_rc(["bench", URL, "--size", "1000"], 2, "bench bad size")
    expect_rc(["bench", URL, "--batch", "0"], 2, "bench batch 0")
    expect_rc(["bench", URL, "--busy-poll", "100001"], 2, "bench busy-poll too big")
    expect_rc(["bench", URL, "--rdma-spin", "1000001"], 2, "bench rdma-spin too long")
    expect_rc(["bench", URL, "--rdma-spin", "always"], 2, "bench rdma-spin not a number")
    expect_rc(["bench", URL, "--qd", "8", "--batch", "9"], 2, "bench batch above qd")
    expect_rc(["alloc", "tcp://127.0.0.1:1", "2M"], 3, "connection refused")
    d = js(["alloc", "tcp://127.0.0.1:1", "2M"], 3)
    check(d.get("ok") is False and d.get("error") == "ECONNREFUSED", f"refused json {d}")
    # TCP to a multicast address: Linux fails connect() with ENETUNREACH at once. The
    # tool's hand-made errno table lacked it and printed "E?".
    d = js(["info", "tcp://224.0.0.1:7117", "--timeout", "2000"], 3)
    check(d.get("error") == "ENETUNREACH", f"unreachable network named {d}")


def test_man_page():
    """prb.1 documents every subcommand and every option that --help lists."""
    import re
    man_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                            "ref-initiator", "prb.1")
    with open(man_path) as f:
        man = f.read().replace("\\-", "-")
    for sub in ("info", "alloc", "free", "map", "list", "put", "get", "bench"):
        check(f".B {sub}" in man, f"prb.1 has a section for {sub}")
        _, out, _ = run(sub, "--help")
        for opt in set(re.findall(r"--[a-z]+", out)):
            check(opt in man, f"prb.1 documents {sub} {opt}")


def test_info():
    out, _ = expect_rc(["info", URL], 0)
    for key in ("brick_id", "boot_epoch", "capacity", "free", "queue_depth", "max_data"):
        check(key in out, f"info shows {key}")
    d = js(["info", URL])
    check(d.get("ok") is True, "info ok")
    check(d.get("transport") == "tcp" and d.get("version") == 1, f"info transport {d}")
    check(d.get("capacity_blocks", 0) > 0, "capacity > 0")
    check(d.get("boot_epoch", 0) >= 1, "boot_epoch >= 1")
    check(len(d.get("brick_id", "")) == 36, "brick_id is a UUID")
    d2 = js(["info", URL, "--digests"])
    check("HDGST" in d2.get("feature_names", ""), f"digests granted: {d2}")
    # The target also listens on [::1] (CMakeLists.txt): the same brick over IPv6.
    with open(os.path.join(os.environ["PRB_POOL_DIR"], "ready")) as f:
        urls = f.read().split()
    v6 = [u for u in urls if u.startswith("tcp://[::1]:")]
    check(len(v6) == 1, f"an IPv6 listener in {urls}")
    if v6:
        d6 = js(["info", v6[0]])
        check(d6.get("brick_id") == d.get("brick_id") and d6.get("url") == v6[0],
              f"info over IPv6 {d6}")


def test_alloc_free_list():
    a = BASE
    out, _ = expect_rc(["alloc", URL, hex(a), "--count", "3"], 0)
    check("allocated" in out, f"alloc output {out!r}")
    d = js(["alloc", URL, hex(a)], 1)
    check(d.get("ok") is False and d.get("error") == "EEXIST", f"alloc EEXIST {d}")
    d = js(["alloc", URL, str(a + 4 * BLK)])
    check(d == {"ok": True, "command": "alloc", "addr": a + 4 * BLK, "blocks": 1,
                "bytes": BLK}, f"alloc json {d}")
    d = js(["list", URL, "--start", hex(a)])
    check(d.get("ok") is True, f"list ok {d}")
    ext = [e for e in d.get("extents", []) if a <= e["addr"] < a + 8 * BLK]
    check([(e["addr"], e["blocks"]) for e in ext] == [(a, 3), (a + 4 * BLK, 1)],
          f"list extents {ext}")
    check(all(e["state"] in ("resident", "tiered") for e in ext), "extent states")
    out, _ = expect_rc(["list", URL, "--start", hex(a)], 0)
    check(f"0x{a:016x} 0x{a + 3 * BLK - 1:016x}" in out and "extent(s)" in out,
          f"list table {out!r}")
    check("4 block(s), 8.0 MiB" in out, f"list total in a human unit {out!r}")
    d = js(["free", URL, hex(a), "--count", "4"], 1)
    check(d.get("error") == "ENOENT", f"free ENOENT {d}")
    expect_rc(["free", URL, hex(a), "--count", "3"], 0)
    expect_rc(["free", URL, "--count", "1", hex(a + 4 * BLK)], 0, "options before ADDR")
    d = js(["list", URL, "--start", hex(a)])
    check(not [e for e in d.get("extents", []) if a <= e["addr"] < a + 8 * BLK],
          f"list after free {d}")


def test_map():
    a = BASE + 16 * BLK
    d = js(["map", URL, hex(a), "--ro"], 1)
    check(d.get("error") == "ENOENT", f"map unallocated {d}")
    expect_rc(["alloc", URL, hex(a)], 0)
    d = js(["map", URL, hex(a), "--rw", "--excl"])
    check(d.get("ok") is True and d.get("access") == "rw" and d.get("exclusive") is True,
          f"map json {d}")
    check(int(d.get("handle", "0"), 16) != 0 and d.get("length") == BLK, f"map handle {d}")
    out, _ = expect_rc(["map", URL, hex(a), "--ro"], 0)
    check("handle" in out and "dies with this connection" in out, f"map table {out!r}")
    # An exclusive mapping held by another process makes this one EBUSY; FREE too.
    # With --json the object's first line (the handle) comes as soon as the block is
    # mapped; the object ends with "ok" when the hold is over.
    holder = subprocess.Popen([PRB, "map", URL, hex(a), "--rw", "--excl", "--hold", "3000",
                               "--json"], stdout=subprocess.PIPE)
    line = holder.stdout.readline()
    check(b'"handle"' in line, f"holder {line!r}")
    d = js(["map", URL, hex(a), "--ro"], 1)
    check(d.get("error") == "EBUSY", f"map while held exclusively {d}")
    d = js(["free", URL, hex(a)], 1)
    check(d.get("error") == "EBUSY", f"free while mapped {d}")
    expect_rc(["free", URL, hex(a), "--force"], 0, "free --force")
    check(holder.wait(timeout=30) == 1, "holder's UNMAP fails (ESTALE) after FREE --force")
    rest = holder.stdout.read()
    try:
        d = json.loads(line + rest)  # exactly one object, though the mapping was lost
    except json.JSONDecodeError as e:
        check(False, f"map --hold --json losing its mapping: not one object ({e}): "
              f"{(line + rest)!r}")
        d = {}
    check(d.get("ok") is False and d.get("error") == "ESTALE" and "handle" in d,
          f"map --hold --json after FREE --force {d}")
    d = json.loads(subprocess.run([PRB, "map", URL, hex(a), "--ro", "--json"],
                                  capture_output=True).stdout or b"{}")
    check(d.get("ok") is False and d.get("error") == "ENOENT", f"map after free {d}")


def test_put_get():
    a = BASE + 32 * BLK
    with tempfile.TemporaryDirectory() as tmp:
        for size in (0, 1, BLK - 4096, BLK - 4095, 3 * BLK + 12345):
            src = os.path.join(tmp, "src")
            dst = os.path.join(tmp, "dst")
            data = os.urandom(size)
            with open(src, "wb") as f:
                f.write(data)
            d = js(["put", URL, hex(a), src])
            want_blocks = 1 if size <= BLK - 4096 else 1 + -(-(size - (BLK - 4096)) // BLK)
            check(d.get("bytes") == size and d.get("blocks") == want_blocks,
                  f"put {size}: {d}")
            d = js(["get", URL, hex(a), dst])
            check(d.get("bytes") == size, f"get {size}: {d}")
            with open(dst, "rb") as f:
                check(f.read() == data, f"get restores {size} bytes exactly")
        # stdin and stdout
        data = os.urandom(5000)
        p = subprocess.run([PRB, "put", URL, hex(a), "-"], input=data, capture_output=True)
        check(p.returncode == 0 and b"5000 bytes" in p.stdout, f"put stdin {p.stdout!r}")
        p = subprocess.run([PRB, "get", URL, hex(a), "-"], capture_output=True)
        check(p.returncode == 0 and p.stdout == data, "get to stdout")
        # A block without a put header.
        b = BASE + 48 * BLK
        expect_rc(["alloc", URL, hex(b)], 0)
        d = js(["get", URL, hex(b), os.path.join(tmp, "x")], 1)
        check(d.get("error") == "EBADMSG" and "no prb put header" in d.get("message", ""),
              f"get without header {d}")
        expect_rc(["put", URL, hex(a), os.path.join(tmp, "missing")], 4, "put missing file")
        expect_rc(["free", URL, hex(b)], 0)
        d = js(["list", URL, "--start", hex(a)])
        used = sum(e["blocks"] for e in d["extents"] if a <= e["addr"] < a + 16 * BLK)
        expect_rc(["free", URL, hex(a), "--count", str(used)], 0, "free put's blocks")


def test_put_shorter():
    """A shorter put over a longer file says which of its blocks stay allocated."""
    a = BASE + 56 * BLK
    with tempfile.TemporaryDirectory() as tmp:
        big, small = os.path.join(tmp, "big"), os.path.join(tmp, "small")
        with open(big, "wb") as f:
            f.write(os.urandom(3 * BLK))  # 3 blocks after block 0's header: 4 in all
        with open(small, "wb") as f:
            f.write(os.urandom(100))
        d = js(["put", URL, hex(a), big])
        check(d.get("blocks") == 4 and d.get("left_allocated") == 0, f"put big {d}")
        _, err = expect_rc(["put", URL, hex(a), small], 0, "put shorter")
        first = a + BLK
        check(f"3 block(s)" in err and f"prb free {URL} {hex(first)} --count 3" in err,
              f"put shorter names the blocks left: {err!r}")
        d = js(["put", URL, hex(a), small])
        check(d.get("left_allocated") == 0, f"same length again: nothing left over {d}")
        d = js(["get", URL, hex(a), os.path.join(tmp, "out")])
        check(d.get("bytes") == 100 and d.get("verified") is True, f"get small {d}")
        expect_rc(["free", URL, hex(a), "--count", "4"], 0, "free the four blocks")
        # A put onto blocks it allocates itself has no earlier file to speak of.
        d = js(["put", URL, hex(a), small])
        check(d.get("allocated") == 1 and d.get("left_allocated") == 0, f"fresh put {d}")
        expect_rc(["free", URL, hex(a)], 0)


def one_json(args, want_rc, what):
    """Run prb; stdout must be exactly one JSON object with "ok": false."""
    rc, out, err = run(*args)
    check(rc == want_rc, f"{what}: exit {rc}, want {want_rc}\n{out}{err}")
    try:
        d = json.loads(out)
    except json.JSONDecodeError as e:
        check(False, f"{what}: not one JSON object ({e}): {out!r}")
        return {}
    check(d.get("ok") is False and d.get("error"), f"{what}: an error object {d}")
    return d


def test_json_errors():
    """With --json anywhere on the command line, every failure prints one object: usage
    errors (before or after --json), local file errors, an unknown subcommand."""
    d = one_json(["alloc", URL, "12345", "--json"], 2, "unaligned ADDR --json")
    check(d.get("step") == "usage" and "2M" in d.get("message", ""), f"usage object {d}")
    one_json(["alloc", "--bogus", URL, "2M", "--json"], 2, "bad option before --json")
    one_json(["alloc", URL, "--json"], 2, "missing ADDR --json")
    one_json(["bench", URL, "--qd", "0", "--json"], 2, "bench --qd 0 --json")
    one_json(["frobnicate", "--json"], 2, "unknown subcommand --json")
    one_json(["get", URL, "2M", "-", "--json"], 2, "get to stdout --json")
    with tempfile.TemporaryDirectory() as tmp:
        d = one_json(["put", URL, "2M", os.path.join(tmp, "missing"), "--json"], 4,
                     "put of a missing file --json")
        check(d.get("error") == "ENOENT", f"put of a missing file {d}")
        d = one_json(["get", URL, hex(BASE), os.path.join(tmp, "no", "dir"), "--json"], 4,
                     "get into a missing folder --json")
    d = js(["info", URL])
    check(d.get("command") == "info", f"info --json has a command key {d}")


def test_numbers():
    """Numbers are decimal or 0x hex: a leading zero is not octal (010 used to mean 8)."""
    a = BASE + 112 * BLK
    d = js(["alloc", URL, "0" + str(a), "--count", "010"])
    check(d.get("addr") == a and d.get("blocks") == 10, f"alloc 0{a} --count 010: {d}")
    expect_rc(["free", URL, hex(a).upper().replace("0X", "0x"), "--count", "0xa"], 0,
              "free with hex address and count")
    for bad in ("0x", "+2M", " 2M", "2e6", "-2M", "0o10"):
        expect_rc(["alloc", URL, bad], 2, f"alloc {bad!r}")
    d = js(["list", URL, "--start", "00"])
    check(d.get("ok") is True, f"list --start 00 {d}")


def test_range_past_end():
    """Ranges past 2^64 are usage errors (exit 2) found before connecting; they were
    libprb's EINVAL (exit 1)."""
    _, err = expect_rc(["alloc", URL, "0xFFFFFFFFFFC00000", "--count", "4"], 2,
                       "alloc past 2^64")
    check("2^64" in err, f"alloc past 2^64 says why: {err!r}")
    expect_rc(["free", URL, "0xFFFFFFFFFFC00000", "--count", "3"], 2, "free past 2^64")
    expect_rc(["bench", URL, "--addr", "0xffffffffffe00000", "--conns", "2", "--count", "10"],
              2, "bench past 2^64")
    d = js(["alloc", URL, "0xFFFFFFFFFFC00000", "--count", "2"])
    check(d.get("ok") is True, f"alloc of the last two blocks {d}")
    expect_rc(["free", URL, "0xFFFFFFFFFFC00000", "--count", "2"], 0)


def test_polish():
    """list shows the last block of the address space without wrapping; bench takes
    --time or --count, not both."""
    top = (1 << 64) - BLK
    expect_rc(["alloc", URL, hex(top)], 0)
    out, _ = expect_rc(["list", URL, "--start", hex(top)], 0)
    check("0xffffffffffe00000 0xffffffffffffffff" in out and "2.0 MiB" in out,
          f"list of the last block {out!r}")
    expect_rc(["free", URL, hex(top)], 0)
    expect_rc(["bench", URL, "--time", "1", "--count", "10"], 2, "bench --time --count")


def test_bench_qd():
    """--qd above the depth the brick grants (prb-target's default 128) fails up front
    with the granted depth named, and leaves no block behind (it used to fail with
    'Queue depth used up (EAGAIN)' once the run had started)."""
    granted = js(["info", URL]).get("queue_depth", 128)
    _, err = expect_rc(["bench", URL, "--qd", str(granted + 1), "--count", "500"], 2,
                       "bench --qd above the granted depth")
    check(f"granted a queue depth of {granted}" in err, f"bench --qd names the depth: {err!r}")
    d = js(["bench", URL, "--qd", str(granted), "--count", "500"])
    check(d.get("ok") is True and d.get("qd") == granted, f"bench at the granted depth {d}")
    d = js(["list", URL, "--start", "0x7f0000000000"])
    check(not d.get("extents"), f"bench left no block {d}")


def test_bench():
    d = js(["bench", URL, "--count", "2000", "--qd", "8"])
    check(d.get("ok") is True and d.get("ops") == 2000 and d.get("op") == "read", f"bench {d}")
    check(d.get("ops_per_sec", 0) > 0 and 0 < d.get("p50_us", 0) <= d.get("p99_us", 0)
          <= d.get("p999_us", 0), f"bench numbers {d}")
    d = js(["bench", URL, "--count", "2000", "--qd", "32", "--batch", "16"])
    check(d.get("ok") is True and d.get("ops") == 2000, f"bench --batch {d}")
    d = js(["bench", URL, "--count", "2000", "--qd", "4", "--busy-poll", "200"])
    check(d.get("ok") is True and d.get("ops") == 2000, f"bench --busy-poll {d}")
    d = js(["bench", URL, "--count", "200", "--qd", "4", "--rdma-spin", "forever"])
    check(d.get("ok") is True and d.get("ops") == 200, f"bench --rdma-spin over TCP {d}")
    d = js(["bench", URL, "--count", "200", "--qd", "8", "--write", "--one-buffer"])
    check(d.get("ok") is True and d.get("ops") == 200, f"bench --one-buffer {d}")
    rc, out, err = run("bench", URL, "--write", "--size", "2M", "--qd", "2", "--conns", "2",
                       "--count", "20", "--csv")
    lines = out.strip().splitlines()
    check(rc == 0 and len(lines) == 2 and lines[0].startswith("op,size,qd,conns"),
          f"bench csv {out!r}{err}")
    if len(lines) == 2:
        row = dict(zip(lines[0].split(","), lines[1].split(",")))
        check(row.get("op") == "write" and row.get("size") == str(BLK) and
              row.get("ops") == "20" and row.get("conns") == "2", f"csv row {row}")
    check("\r" not in err, "no progress line when stderr is not a terminal")
    # The seconds count the I/O only, not the setup: 4 connections with 64 x 2 MiB buffers
    # each (512 MiB to allocate and fill) moving one block each.
    t0 = time.monotonic()
    d = js(["bench", URL, "--size", "2M", "--qd", "64", "--conns", "4", "--count", "4"])
    wall = time.monotonic() - t0
    check(d.get("ops") == 4 and 0 <= d.get("seconds", -1) < wall / 2,
          f"bench times the I/O, not the setup: {d.get('seconds')} s of {wall:.3f} s")
    out, _ = expect_rc(["bench", URL, "--time", "1", "--size", "64K"], 0)
    check("ops/s" in out and "p999_us" in out, f"bench table {out!r}")
    d = js(["list", URL, "--start", "0x7f0000000000"])
    check(not d.get("extents"), f"bench freed its blocks {d}")
    # On a terminal (a pty from util-linux script) the live progress line appears.
    cmd = f"{PRB} bench {URL} --time 3 --qd 4"
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace")
    check(p.returncode == 0 and "\r[" in out and "ops/s" in out and "p50_us" in out,
          f"progress line on a terminal: {out!r}")


def test_put_bad_file_keeps_old():
    """A put whose FILE cannot be read fails before touching the brick: the file put
    stored before stays whole (it used to lose its header: 'read: Is a directory')."""
    a = BASE + 64 * BLK
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
        data = os.urandom(BLK + 777)
        with open(src, "wb") as f:
            f.write(data)
        expect_rc(["put", URL, hex(a), src], 0)
        d = js(["list", URL, "--start", hex(a)])
        before = [e for e in d.get("extents", []) if a <= e["addr"] < a + 8 * BLK]
        _, err = expect_rc(["put", URL, hex(a), tmp], 4, "put of a directory")
        check("directory" in err, f"put of a directory says why: {err!r}")
        d = js(["put", URL, hex(a), "/dev/zero"], 4)
        check(d.get("ok") is False, f"put of a device: one JSON error {d}")
        dfd = os.open(tmp, os.O_RDONLY)
        p = subprocess.run([PRB, "put", URL, hex(a), "-"], stdin=dfd, capture_output=True)
        os.close(dfd)
        check(p.returncode == 4, f"put of a directory on stdin: exit {p.returncode}")
        expect_rc(["get", URL, hex(a), dst], 0, "get after failed puts")
        with open(dst, "rb") as f:
            check(f.read() == data, "the file put stored survives failed puts")
        d = js(["list", URL, "--start", hex(a)])
        after = [e for e in d.get("extents", []) if a <= e["addr"] < a + 8 * BLK]
        check(before == after, f"failed puts allocate nothing: {before} -> {after}")
        expect_rc(["free", URL, hex(a), "--count", "2"], 0)


def extents_in(a, blocks):
    d = js(["list", URL, "--start", hex(a)])
    return [(e["addr"], e["blocks"]) for e in d.get("extents", [])
            if a <= e["addr"] < a + blocks * BLK]


def test_put_range():
    """A put past 2^64 fails before it allocates: at once (exit 2) for a regular file,
    and after freeing what it allocated (EFBIG) for a pipe."""
    top = (1 << 64) - BLK
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "f7m")
        with open(src, "wb") as f:
            f.write(os.urandom(7 << 20))
        _, err = expect_rc(["put", URL, hex(top), src], 2, "put of 7M at the last block")
        check("2^64" in err, f"put past 2^64 says why: {err!r}")
        check(extents_in(top, 1) == [], "put past 2^64 allocated nothing")
        with open(src, "rb") as f:  # through a pipe: the size is not known in advance
            p = subprocess.run([PRB, "put", URL, hex(top), "-"], input=f.read(),
                               capture_output=True)
        err = p.stderr.decode()
        check(p.returncode == 1 and "EFBIG" in err and "freed the 1 block" in err,
              f"put of a pipe past 2^64: exit {p.returncode} {err!r}")
        check(extents_in(top, 1) == [], "put of a pipe past 2^64 frees block 0")


def brick_free():
    return js(["info", URL]).get("free_blocks", -1)


def test_space():
    """(small pool) A put that cannot fit: refused before allocating for a regular file;
    for a pipe, the blocks it allocated are freed again, the ones that were there stay."""
    a = BASE
    free0 = brick_free()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "big")
        with open(src, "wb") as f:
            f.write(os.urandom((free0 + 1) * BLK))
        d = js(["put", URL, hex(a), src], 1)
        check(d.get("error") == "ENOSPC", f"put larger than the free space {d}")
        check(brick_free() == free0 and extents_in(a, 2 * free0) == [],
              "a put refused for space allocates nothing")
        # A pipe: the size is unknown, the put runs into ENOSPC and undoes its ALLOCs.
        expect_rc(["alloc", URL, hex(a + 3 * BLK)], 0)
        with open(src, "rb") as f:
            p = subprocess.run([PRB, "put", URL, hex(a), "-"], input=f.read(),
                               capture_output=True)
        err = p.stderr.decode()
        check(p.returncode == 1 and "ENOSPC" in err and "freed the" in err,
              f"put of a pipe into a full brick: exit {p.returncode} {err!r}")
        check(extents_in(a, 2 * free0) == [(a + 3 * BLK, 1)],
              f"only the block allocated before stays: {extents_in(a, 2 * free0)}")
        check(brick_free() == free0 - 1, "every block the put allocated is free again")
        expect_rc(["free", URL, hex(a + 3 * BLK)], 0)


def test_get_keeps_dest():
    """A failed get leaves an existing FILE as it was and no temporary file behind: an
    unallocated ADDR (it used to truncate FILE) and a missing middle block (a partial
    file). A good get replaces FILE and keeps its mode."""
    a = BASE + 80 * BLK
    with tempfile.TemporaryDirectory() as tmp:
        src, keep = os.path.join(tmp, "src"), os.path.join(tmp, "keep")
        old = b"the old contents\n" * 100
        with open(keep, "wb") as f:
            f.write(old)
        os.chmod(keep, 0o640)
        expect_rc(["get", URL, hex(a), keep], 1, "get of an unallocated block")
        with open(keep, "rb") as f:
            check(f.read() == old, "a get of an unallocated block leaves FILE alone")
        data = os.urandom(3 * BLK)
        with open(src, "wb") as f:
            f.write(data)
        expect_rc(["put", URL, hex(a), src], 0)
        expect_rc(["free", URL, hex(a + 2 * BLK)], 0, "free the middle block")
        d = js(["get", URL, hex(a), keep], 1)
        check(d.get("error") == "ENOENT", f"get with a missing block {d}")
        with open(keep, "rb") as f:
            check(f.read() == old, "a get missing a block leaves FILE alone")
        check(sorted(os.listdir(tmp)) == ["keep", "src"], f"no temporary file: {os.listdir(tmp)}")
        expect_rc(["put", URL, hex(a), src], 0)
        expect_rc(["get", URL, hex(a), keep], 0)
        with open(keep, "rb") as f:
            check(f.read() == data, "a good get replaces FILE")
        check(os.stat(keep).st_mode & 0o777 == 0o640, "FILE keeps its mode")
        check(sorted(os.listdir(tmp)) == ["keep", "src"], f"no temporary file: {os.listdir(tmp)}")
        expect_rc(["get", URL, hex(a), "/dev/null"], 0, "get to a device streams")
        expect_rc(["free", URL, hex(a), "--count", "4"], 0)


def crc32c(data):
    """CRC32C (Castagnoli), bitwise: for the few header bytes the tests build."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_get_checks_data():
    """get verifies the data checksum of the put header: blocks overwritten after the put
    (here by prb bench --write) fail with exit 5 and leave no FILE, instead of a wrong
    file and exit 0. A version 1 header (no data checksum) still reads, unverified."""
    a = BASE + 96 * BLK
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
        data = os.urandom(2 * BLK)
        with open(src, "wb") as f:
            f.write(data)
        d = js(["put", URL, hex(a), src])
        check(d.get("ok") is True and isinstance(d.get("crc32c"), int), f"put crc32c {d}")
        d = js(["get", URL, hex(a), dst])
        check(d.get("verified") is True and d.get("crc32c") == js(["put", URL, hex(a), src]).get("crc32c"),
              f"get verified {d}")
        os.unlink(dst)
        expect_rc(["bench", URL, "--write", "--addr", hex(a + BLK), "--count", "1",
                   "--size", "64K"], 0, "bench overwrites block 1")
        rc, out, err = run("get", URL, hex(a), dst, "--json")
        d = json.loads(out) if out.strip() else {}
        check(rc == 5 and d.get("ok") is False and d.get("error") == "EBADMSG" and
              d.get("step") == "data checksum", f"get of overwritten data: exit {rc} {out}{err}")
        check("checksum" in err, f"get of overwritten data says why: {err!r}")
        check(not os.path.exists(dst), "no FILE from data that fails its checksum")
        # A version 1 header (magic, length, blocks, CRC32C of bytes 0..23) at block 1.
        payload = b"written by prb 0.1.0\n" * 50
        h = b"PRBFILE1" + len(payload).to_bytes(8, "little") + (1).to_bytes(8, "little")
        h += crc32c(h).to_bytes(4, "little")
        with open(src, "wb") as f:
            f.write(b"\0" * (BLK - 4096) + h + b"\0" * (4096 - len(h)) + payload)
        expect_rc(["put", URL, hex(a), src], 0)
        rc, out, err = run("get", URL, hex(a + BLK), dst, "--json")
        d = json.loads(out) if out.strip() else {}
        check(rc == 0 and d.get("verified") is False and "version 1" in err,
              f"get of a version 1 header: exit {rc} {out}{err}")
        with open(dst, "rb") as f:
            check(f.read() == payload, "a version 1 file reads back")
        expect_rc(["free", URL, hex(a), "--count", "2"], 0)


DEFAULT_TESTS = (test_help, test_man_page, test_info, test_alloc_free_list, test_map,
                 test_put_get, test_put_shorter, test_put_bad_file_keeps_old, test_put_range, test_get_keeps_dest,
                 test_get_checks_data, test_json_errors, test_numbers, test_range_past_end, test_polish, test_bench_qd,
                 test_bench)

if len(sys.argv) > 2:
    tests = [globals()["test_" + name] for name in sys.argv[2:]]
else:
    tests = DEFAULT_TESTS
for t in tests:
    t()
if failures:
    print(f"test_prb_tool: {failures} failure(s)", file=sys.stderr)
    sys.exit(1)
print("test_prb_tool: all checks passed")
