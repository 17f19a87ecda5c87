"""Worked examples: whole PDUs built from the spec and listed byte by byte.

PROTOCOL.md shows them in the regions `example:NAME` (rewritten by `prbgen doc
--update`, checked by `doc --check`), and the test vectors carry the same PDUs as
`example/NAME/N` records, so the C decoders check every byte a reader is shown. Only
the field values below are typed here; layouts, opcodes, flag bits, digests and sizes
come from the spec through gen_vectors' encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gen_vectors import Pdu, crc32c, flag_bit
from model import Field, Message, Spec

HOST_ID = bytes.fromhex("6f1c2a9e5b7d4e1f8a3c0d2b4e6f8091")
BRICK_ID = bytes.fromhex("c0ffee00b1c4400a9e3d5a7b2c4d6e8f")
WRITE_DATA = b"prb: one-sided!"  # 15 bytes: the data digest covers an odd length


@dataclass
class Step:
    """One PDU of an example: who sends it, the message and its values."""
    sender: str
    message: str
    body: dict
    tag: int
    flags: tuple[str, ...] = ()
    payload: bytes = b""
    caption: str = ""


@dataclass
class Example:
    title: str
    steps: list[Step] = field(default_factory=list)


EXAMPLES: dict[str, Example] = {
    "hello": Example(
        "The HELLO exchange of a TCP connection that asks for both digests and atomics.",
        [
            Step("initiator", "hello_req",
                 {"min_version": 1, "max_version": 1, "queue_depth": 32,
                  "features": ("HDGST", "DDGST", "ATOMICS"), "max_pdu": 2101248,
                  "host_id": HOST_ID},
                 tag=1, caption="first PDU of the stream; no digests (PRB-DGST-3)"),
            Step("brick", "hello_rsp",
                 {"version": 1, "queue_depth": 32, "features": ("HDGST", "DDGST", "ATOMICS"),
                  "max_pdu": 2101248, "max_data": 2097152, "brick_id": BRICK_ID,
                  "capacity_blocks": 512, "free_blocks": 500, "boot_epoch": 3,
                  "max_mappings": 1024},
                 tag=1, caption="both digests granted: every later PDU carries them"),
        ]),
    "write": Example(
        "A WRITE of 15 bytes at offset 4096 of a mapped block, on that connection: header "
        "digest after the fixed part, data digest after the payload.",
        [
            Step("initiator", "write_req",
                 {"handle": 0x8E1A5C3F00000042, "offset": 4096, "length": len(WRITE_DATA)},
                 tag=7, flags=("HDGST", "DDGST"), payload=WRITE_DATA,
                 caption="the payload is the ASCII text \"prb: one-sided!\""),
            Step("brick", "write_rsp", {}, tag=7, flags=("HDGST",),
                 caption="no payload, so no data digest (PRB-DGST-5)"),
        ]),
}


class ExampleError(Exception):
    pass


class ExamplePdu(Pdu):
    """A PDU whose payload is the example's own bytes, not the vectors' pattern."""

    def __init__(self, spec: Spec, m: Message, body: dict, payload: bytes, flags: int, tag: int):
        super().__init__(spec, m, body, len(payload), flags, tag)
        self.extents = []
        self.data = payload

    def payload(self) -> bytes:
        return self.data


def _value(spec: Spec, f: Field, given):
    """A field's value from the example: a number, bytes, or flag names."""
    if isinstance(given, tuple):
        return sum(f.flags.value(name).value for name in given)
    return given


def _check(m: Message, f: Field, v, where: str) -> None:
    """Examples must be valid PDUs: every constraint of the field's table holds."""
    if f.is_bytes:
        if len(v) != f.size:
            raise ExampleError(f"{where}: {m.name}.{f.name} needs {f.size} bytes")
        return
    bad = ((f.min is not None and v < f.min) or (f.max is not None and v > f.max)
           or (f.equals is not None and v != f.equals)
           or (f.align is not None and v % f.align) or v > f.type_max
           or (f.enum is not None and v not in {e.value for e in f.enum.values})
           or (f.flags is not None and v & ~f.flags.mask))
    if bad:
        raise ExampleError(f"{where}: {m.name}.{f.name} = {v} breaks its table")


def build(spec: Spec, name: str, step: Step) -> Pdu:
    m = spec.message(step.message)
    body = {}
    for f in m.fields:
        if f.reserved:
            continue
        if f.name not in step.body:
            raise ExampleError(f"example {name}: {m.name}.{f.name} has no value")
        v = _value(spec, f, step.body[f.name])
        _check(m, f, v, f"example {name}")
        body[f.name] = v
    unknown = set(step.body) - {f.name for f in m.fields}
    if unknown:
        raise ExampleError(f"example {name}: {m.name} has no field {', '.join(sorted(unknown))}")
    flags = sum(flag_bit(spec, n) for n in step.flags)
    return ExamplePdu(spec, m, body, step.payload, flags, step.tag)


def _shown(spec: Spec, f: Field, v) -> str:
    if f.is_bytes:
        return v.hex()
    width = 2 + 2 * f.size
    if f.equals is not None:
        text = v.to_bytes(f.size, "little").decode("ascii", "replace")
        return f"{v:#0{width}x} (bytes \"{text}\")"
    if f.enum:
        names = [e.name for e in f.enum.values if e.value == v]
        if f.name == "opcode" and not names:
            base = [e.name for e in f.enum.values if e.value == v & 0x7F]
            names = [f"{base[0]} response"] if base else []
        return f"{v:#0{width}x} {names[0]}" if names else f"{v:#0{width}x}"
    if f.flags:
        names = [e.name for e in f.flags.values if v & e.value]
        return f"{v:#0{width}x} " + ("|".join(names) if names else "none")
    return f"{v} ({v:#x})" if v > 9 else str(v)


def _row(offset: int, data: bytes, what: str, value: str) -> str:
    return f"{offset:6d}  {data.hex(' '):<24}  {what:<26} {value}".rstrip()


def listing(spec: Spec, pdu: Pdu) -> list[str]:
    """The PDU byte by byte: offset, bytes, field, value."""
    whole = pdu.whole()
    rows = [f"{'offset':>6}  {'bytes':<24}  {'field':<26} value"]
    for f in spec.hdr.fields:
        rows.append(_row(f.offset, whole[f.offset:f.end], f"hdr.{f.name}",
                         _shown(spec, f, pdu.hdr[f.name])))
    hlen = pdu.hdr["hlen"]
    for f in pdu.m.fields:
        v = bytes(f.size) if f.reserved else pdu.body[f.name]
        shown = "0 (reserved)" if f.reserved else _shown(spec, f, v)
        data = whole[f.offset:f.end]
        if f.is_bytes and f.size > 8:
            rows.append(_row(f.offset, data[:8], f"{pdu.m.name}.{f.name}", shown))
            rows.append(_row(f.offset + 8, data[8:], "", ""))
        else:
            rows.append(_row(f.offset, data, f"{pdu.m.name}.{f.name}", shown))
    at = hlen
    flags = pdu.hdr["flags"]
    if flags & flag_bit(spec, "HDGST"):
        crc = crc32c(whole[:hlen])
        rows.append(_row(at, whole[at:at + 4], "header digest",
                         f"CRC32C of bytes 0..{hlen - 1} = {crc:#010x}"))
        rows.append(_row(at + 4, whole[at + 4:at + 8], "header digest padding", "0"))
        at += spec.constant("hdgst_size")
    payload = pdu.payload()
    for i in range(0, len(payload), 8):
        chunk = payload[i:i + 8]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(_row(at + i, chunk, "payload" if i == 0 else "", f'"{text}"'))
    at += len(payload)
    if flags & flag_bit(spec, "DDGST"):
        rows.append(_row(at, whole[at:at + 4], "data digest",
                         f"CRC32C of the payload = {crc32c(payload):#010x}"))
        at += spec.constant("ddgst_size")
    assert at == len(whole) == pdu.hdr["plen"]
    return rows


def render(spec: Spec, name: str) -> list[str]:
    """The Markdown of region example:NAME."""
    if name not in EXAMPLES:
        raise ExampleError(f"no example '{name}' (spec/prbgen/gen_examples.py: "
                           f"{', '.join(EXAMPLES)})")
    ex = EXAMPLES[name]
    out = [ex.title]
    for i, step in enumerate(ex.steps, 1):
        pdu = build(spec, name, step)
        whole = pdu.whole()
        out += ["", f"{i}. {step.sender} -> {'brick' if step.sender == 'initiator' else 'initiator'}: "
                f"`{step.message}`, {len(whole)} bytes ({step.caption}):", "", "```"]
        out += listing(spec, pdu)
        out += ["```", "", f"The whole PDU in hex: `{whole.hex()}`"]
    return out


def vectors(spec: Spec) -> list[tuple[str, Pdu]]:
    """(vector name, PDU) of every example step, for the test vectors."""
    return [(f"example/{name}/{i}", build(spec, name, step))
            for name in EXAMPLES for i, step in enumerate(EXAMPLES[name].steps, 1)]
