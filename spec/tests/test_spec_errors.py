#!/usr/bin/env python3
"""The generator refuses broken specs, naming the entry at fault.

Each case edits a copy of spec/prb.toml (replace the first occurrence of OLD by NEW,
after the line that matches ANCHOR when given) and expects `prbgen.py check` to fail
with a message containing every expected fragment.
With PROTOCOL.md given, `prbgen.py doc --check` must also fail on a drifted table, an
unknown or unterminated region, a requirement ID the codec cites gone missing, a
missing file, a region the spec calls for deleted (markers included), a MUST, SHALL or
REQUIRED sentence without a requirement ID, an ID defined twice, and a constant's value
restated in the prose, a worked example edited by hand or deleted; and the worked
examples' generator must refuse values that break a message's table.
Usage: test_spec_errors.py PRBGEN SPEC [PROTOCOL.md]
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

# (what, anchor, old, new, fragments expected in the error)
CASES = [
    ("unknown key", 'name = "alloc_req"', 'payload = "none"', 'payload = "none"\ncolour = 1',
     ["message alloc_req", "unknown key 'colour'"]),
    ("unknown top-level table", None, "\n[protocol]", "\n[colours]\nx = 1\n\n[protocol]",
     ["unknown top-level table 'colours'"]),
    ("data digest not one CRC32C", 'name = "ddgst_size"', "value = 4", "value = 8",
     ["constant ddgst_size", "= crc32c_size"]),
    ("duplicate constant", None, 'name = "tcp_port"', 'name = "magic"',
     ["constant magic", "duplicate constant name"]),
    ("duplicate enum value", 'name = "ENOSPC"', "value = 2", "value = 1",
     ["enum status value ENOSPC", "duplicate value 0x1"]),
    ("duplicate enum name", 'name = "ENOSPC"', 'name = "ENOSPC"', 'name = "EEXIST"',
     ["enum status value EEXIST", "duplicate value name"]),
    ("flag not a single bit", 'name = "EXCL"', "value = 0x02", "value = 0x03",
     ["enum map_flags value EXCL", "single bit"]),
    ("enum value too wide", 'name = "TERM"', "value = 0x7F", "value = 0x17F",
     ["enum opcode value TERM", "does not fit u8"]),
    ("field overlap", 'name = "alloc_req"', "offset = 24", "offset = 20",
     ["message alloc_req field blocks", "overlaps"]),
    ("field gap", 'name = "max_version"', "offset = 18", "offset = 20",
     ["message hello_req field max_version", "gap"]),
    ("misaligned field", 'name = "alloc_req"', "offset = 16", "offset = 20",
     ["message alloc_req field addr", "not aligned to 8"]),
    ("size not a multiple of 8", 'name = "cas_rsp"', "size = 24", "size = 20",
     ["message cas_rsp", "multiple of 8"]),
    ("size past the last field", 'name = "map_req"', "size = 32", "size = 40",
     ["message map_req", "differs from the end of the last field"]),
    ("unknown enum", 'name = "state"', 'enum = "extent_state"', 'enum = "extent_status"',
     ["struct extent field state", "unknown enum 'extent_status'"]),
    ("enum type mismatch", 'name = "reason"', 'type = "u16"', 'type = "u32"',
     ["message term field reason", "differs from enum"]),
    ("flags naming an enum", 'name = "map_flags"\ntype', 'flags = "map_flags"',
     'flags = "status"', ["message map_req field map_flags", "kind is enum"]),
    ("unknown constant", 'name = "cursor"', 'align = "block_size"', 'align = "block_sz"',
     ["message list_req field cursor", "unknown constant 'block_sz'"]),
    ("align not a power of two", 'name = "cas_req"', 'align = "atomic_size"', "align = 12",
     ["message cas_req field offset", "power of two"]),
    ("min above max", 'name = "max_extents"', "min = 1", "min = 5000",
     ["message list_req field max_extents", "above max"]),
    ("unknown opcode", 'name = "free_req"', 'opcode = "FREE"', 'opcode = "FREEDOM"',
     ["message free_req", "not in enum opcode"]),
    ("duplicate message", 'name = "free_rsp"', 'name = "free_rsp"', 'name = "free_req"',
     ["message free_req", "duplicate message name"]),
    ("two messages, one opcode byte", 'name = "free_rsp"', 'opcode = "FREE"',
     'opcode = "ALLOC"', ["message free_rsp", "opcode byte 0x90"]),
    ("block_size not 1 << block_shift", 'name = "block_shift"', "value = 21", "value = 20",
     ["constant block_size", "1 << block_shift"]),
    ("HELLO request too big for rdma_cm", 'name = "rdma_req_private_data"', "value = 56",
     "value = 40", ["message hello_req", "rdma_req_private_data"]),
    ("HELLO response too big for rdma_cm", 'name = "rdma_rsp_private_data"', "value = 196",
     "value = 64", ["message hello_rsp", "rdma_rsp_private_data"]),
    ("reserved field with a bound", 'name = "free_rsp"', "", "",
     None),  # placeholder replaced below
    ("missing required key", 'name = "unmap_req"', 'direction = "request"\n', "",
     ["message unmap_req", "missing key 'direction'"]),
    ("bad type", 'name = "unmap_req"', 'type = "u64"', 'type = "u48"',
     ["message unmap_req field handle", "type must be one of"]),
    ("payload length on a message without payload", 'name = "alloc_req"',
     'max = "max_range_blocks"', 'max = "max_range_blocks"\npayload_length = true',
     ["message alloc_req", "without payload"]),
    ("unbounded data payload", 'name = "read_rsp"', 'payload_max = "max_data_limit"\n', "",
     ["message read_rsp", "needs a bound"]),
    ("unknown_bits on a field without flags", 'name = "max_pdu"', 'min = "min_max_pdu"',
     'min = "min_max_pdu"\nunknown_bits = "ignore"',
     ["message hello_req field max_pdu", "'unknown_bits' needs 'flags'"]),
    ("unknown_bits value", None, 'unknown_bits = "ignore"', 'unknown_bits = "drop"',
     ["message hello_req field features", "'unknown_bits' must be one of reserved, ignore"]),
    ("unknown_bits not a string", None, 'unknown_bits = "ignore"', "unknown_bits = true",
     ["message hello_req field features", "'unknown_bits' must be a str"]),
    ("unknown_bits ignored on the header flags", None, 'flags = "hdr_flags"',
     'flags = "hdr_flags"\nunknown_bits = "ignore"',
     ["struct hdr field flags", "unknown bits cannot be ignored"]),
    ("unused opcode", None, '[[enum.value]]\nname = "TERM"',
     '[[enum.value]]\nname = "NOP"\nvalue = 0x30\ndoc = "Nothing."\n[[enum.value]]\nname = "TERM"',
     ["enum opcode value NOP", "no message uses it"]),
    ("C name collision", 'name = "EXCL"', 'name = "EXCL"', 'name = "ALL"',
     ["enum map_flags", "PRB_MAP_ALL"]),
    ("message named like a codec type", 'name = "keepalive_rsp"', 'name = "keepalive_rsp"',
     'name = "url"', ["message url", "C name url"]),
    ("required constant missing", None, 'name = "hdr_size"', 'name = "header_size"',
     ["required constant 'hdr_size'"]),
]
CASES = [c for c in CASES if c[4] is not None]
CASES.append(("reserved field with a bound", 'name = "reserved0"\ntype = "u16"\noffset = 14',
              "reserved = true", "reserved = true\nmax = 3",
              ["struct extent field reserved0", "reserved field takes no 'max'"]))


def mutate(text: str, anchor, old: str, new: str) -> str:
    start = 0
    if anchor is not None:
        start = text.index(anchor)
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old):]


# (what, old, new, fragment expected in the doc check's output) on a copy of PROTOCOL.md;
# old is a string (its first occurrence is replaced) or a compiled pattern (its first
# match; every match when the pattern has a group, for a back reference).
DOC_CASES = [
    ("table drift", "| 24 | 4 | u32 | `blocks` |", "| 24 | 4 | u32 | `count` |", "differ from"),
    ("unknown region", "<!-- prbgen:begin constants -->\n",
     "<!-- prbgen:begin constants -->\n<!-- prbgen:end constants -->\n"
     "<!-- prbgen:begin enum:colour -->\n", "no enum 'colour'"),
    ("region inside a region", "<!-- prbgen:end messages -->", "", "begins inside region"),
    ("requirement cited by the codec removed", "[PRB-HDR-1]", "[PRB-HDR-0]", "PRB-HDR-1"),
    ("whole region deleted", re.compile(r"<!-- prbgen:begin enum:free_flags -->.*?"
                                        r"<!-- prbgen:end enum:free_flags -->\n", re.S),
     "", "lacks the generated region(s) enum:free_flags"),
    ("every region deleted", re.compile(r"<!-- prbgen:begin (\S+) -->.*?"
                                        r"<!-- prbgen:end \1 -->\n", re.S),
     "", "lacks the generated region(s) constants, messages"),
    ("MUST without an ID", "- [PRB-KA-3] A brick MUST NOT count", "- A brick MUST NOT count",
     "a requirement without an ID"),
    ("second MUST sentence in an item", "`keepalive_rsp` and MUST\n  NOT change any state",
     "`keepalive_rsp`. It MUST\n  NOT change any state", "a requirement without an ID"),
    ("SHALL without an ID",
     "Idle, HELLO, partial-PDU and send timeouts are settings of the brick.",
     "Idle, HELLO, partial-PDU and send timeouts SHALL be settings of the brick.",
     "a requirement without an ID"),
    ("REQUIRED without an ID",
     "Idle, HELLO, partial-PDU and send timeouts are settings of the brick.",
     "A partial-PDU timeout is REQUIRED.", "a requirement without an ID"),
    ("duplicate requirement ID", "[PRB-KA-3]", "[PRB-KA-2]", "PRB-KA-2 defined again"),
    ("constant value restated", "`min_idle_timeout_s` seconds", "`min_idle_timeout_s` (30) seconds",
     "restates the value of `min_idle_timeout_s`"),
    ("worked example edited", "CRC32C of the payload = 0x", "CRC32C of the payload = 0x0",
     "differ from"),
    ("worked example deleted", re.compile(r"<!-- prbgen:begin example:write -->.*?"
                                          r"<!-- prbgen:end example:write -->\n", re.S),
     "", "lacks the generated region(s) example:write"),
    ("unknown worked example", "<!-- prbgen:begin example:write -->",
     "<!-- prbgen:begin example:read -->", "no example 'read'"),
    ("vector format deleted", re.compile(r"<!-- prbgen:begin vectors:format -->.*?"
                                         r"<!-- prbgen:end vectors:format -->\n", re.S),
     "", "lacks the generated region(s) vectors:format"),
]

# (what, message, field values, payload) of worked examples the generator must refuse.
EXAMPLE_CASES = [
    ("queue depth 0", "hello_req", {"min_version": 1, "max_version": 1, "queue_depth": 0,
                                    "features": (), "max_pdu": 8192, "host_id": bytes(16)},
     "hello_req.queue_depth = 0 breaks its table"),
    ("field missing", "write_req", {"handle": 1, "offset": 0}, "write_req.length has no value"),
    ("unknown field", "keepalive_req", {"colour": 1}, "keepalive_req has no field colour"),
    ("short bytes16", "hello_req", {"min_version": 1, "max_version": 1, "queue_depth": 1,
                                    "features": (), "max_pdu": 8192, "host_id": bytes(15)},
     "needs 16 bytes"),
]


def example_cases(prbgen: str, spec_path: Path) -> int:
    """The worked examples of PROTOCOL.md Appendix D are checked against the spec."""
    sys.path.insert(0, str(Path(prbgen).parent))
    import gen_examples
    import model
    spec = model.load(spec_path)
    failures = 0
    for what, message, body, fragment in EXAMPLE_CASES:
        step = gen_examples.Step("initiator", message, body, tag=1)
        try:
            gen_examples.build(spec, "test", step)
            print(f"FAIL example {what}: accepted")
            failures += 1
        except gen_examples.ExampleError as e:
            ok = fragment in str(e)
            print(f"{'ok  ' if ok else 'FAIL'} example {what}: {e}")
            failures += 0 if ok else 1
    return failures


def mutate_doc(text: str, old, new: str):
    """text with the first occurrence of old (a string or a pattern) replaced, or None."""
    if isinstance(old, re.Pattern):
        m = old.search(text)
        if m is None:
            return None
        if old.groups:  # a back reference: every region
            return old.sub(new, text)
        return text[:m.start()] + new + text[m.end():]
    if old not in text:
        return None
    return text.replace(old, new, 1)


def doc_cases(prbgen: str, spec: Path, doc: Path) -> int:
    failures = 0
    text = doc.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "PROTOCOL.md"
        for what, old, new, fragment in DOC_CASES:
            changed = mutate_doc(text, old, new)
            if changed is None:
                print(f"FAIL doc {what}: PROTOCOL.md has no {old!r} to change")
                failures += 1
                continue
            copy.write_text(changed)
            r = subprocess.run([sys.executable, prbgen, "--spec", str(spec), "doc", "--check",
                                str(copy)], capture_output=True, text=True)
            if r.returncode == 0 or fragment not in r.stderr:
                print(f"FAIL doc {what}: exit {r.returncode}: {r.stderr[-300:]}")
                failures += 1
            else:
                print(f"ok   doc {what}")
        r = subprocess.run([sys.executable, prbgen, "--spec", str(spec), "doc", "--check",
                            str(Path(tmp) / "absent.md")], capture_output=True, text=True)
        if r.returncode == 0:
            print("FAIL doc missing file: accepted")
            failures += 1
        else:
            print("ok   doc missing file")
    return failures


def main() -> int:
    prbgen, spec = sys.argv[1], Path(sys.argv[2])
    text = spec.read_text()
    ok = subprocess.run([sys.executable, prbgen, "--spec", str(spec), "check"])
    failures = 0 if ok.returncode == 0 else 1
    if failures:
        print("the unmodified spec fails the check")
    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(tmp) / "prb.toml"
        for what, anchor, old, new, fragments in CASES:
            broken.write_text(mutate(text, anchor, old, new))
            r = subprocess.run([sys.executable, prbgen, "--spec", str(broken), "check"],
                               capture_output=True, text=True)
            message = r.stderr.strip()
            if r.returncode == 0:
                print(f"FAIL {what}: accepted")
                failures += 1
            elif not all(f in message for f in fragments) or f"{broken}:" not in message:
                print(f"FAIL {what}: message lacks {fragments} or the file:line: {message}")
                failures += 1
            else:
                print(f"ok   {what}: {message.removeprefix('prbgen: ')}")
    failures += example_cases(prbgen, spec)
    if len(sys.argv) > 3:
        failures += doc_cases(prbgen, spec, Path(sys.argv[3]))
    print(f"test_spec_errors: {len(CASES)} spec cases, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
