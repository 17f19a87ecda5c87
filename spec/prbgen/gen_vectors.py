"""Test vectors: canonical encodings of every message, valid and invalid."""

from __future__ import annotations

import random
import struct as pystruct

from model import Field, Message, Spec, Struct

SEED = 0x50524221  # fixed: the vectors are the same on every run
RANDOM_VECTORS = 4
SMALL_PAYLOAD = 64  # random data payloads stay small; the pdu line is shown up to this size
PACK = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q"}

# The failures a decoder reports in 'expect ERRNO OFFSET', in the order it checks
# (PRB-PDU-12's order for the header, then the body in field order): (errno name,
# failure, the byte offset it blames). PROTOCOL.md Appendix E shows this table.
DECODE_ERRORS = [
    ("EMSGSIZE", "fewer bytes than the fixed part (or than hdr_size for a lone header)",
     "the number of bytes given: the first one missing"),
    ("EPROTO", "hdr.magic is not magic", "0 (hdr.magic)"),
    ("EINVAL", "a reserved bit of hdr.flags is set", "hdr.flags"),
    ("EBADMSG", "hdr.hlen below hdr_size or not a multiple of 8", "hdr.hlen"),
    ("EBADMSG", "hdr.plen below hdr.hlen plus the digests hdr.flags announces", "hdr.plen"),
    ("EOPNOTSUPP", "hdr.opcode is not in the enum opcode (a brick answers ENOTSUP)",
     "hdr.opcode"),
    ("ENOMSG", "a decoder of one message given another message's opcode or direction",
     "hdr.opcode"),
    ("ERANGE", "hdr.status is not in the enum status", "hdr.status"),
    ("EINVAL", "a request (or TERM) whose hdr.status is not OK", "hdr.status"),
    ("EBADMSG", "hdr.hlen is not the message's size (hdr_size in an error response)",
     "hdr.hlen"),
    ("EBADMSG", "a data digest flag on a PDU without payload", "hdr.flags"),
    ("EBADMSG", "a payload where the message has none", "hdr.plen"),
    ("E2BIG", "hdr.plen larger than the message's largest PDU: a payload above its "
     "maximum (a write_req of more than max_data_limit bytes)",
     "hdr.plen: the excess is seen there before the length field is read"),
    ("EBADMSG", "the payload length field disagrees with the payload hdr.plen gives",
     "the length field (write_req.length, list_rsp.count)"),
    ("EINVAL", "a reserved field or reserved flag bit of the body is not zero; a value "
     "breaks align, min or equals", "that field"),
    ("ERANGE", "a body field of an enum holds a value that is not a member", "that field"),
    ("E2BIG", "a body field is above its max", "that field"),
]

FORMAT = """\
# prb test vectors (format 1): canonical encodings of every prb message.
#
# Plain text, one record per block; records are separated by blank lines and lines
# starting with '#' are comments. Every record starts with 'vector NAME' and holds
# 'key value' lines:
#
#   vector NAME         unique name: MESSAGE/valid/N or MESSAGE/invalid/WHAT, or
#                       example/NAME/N for the worked examples of PROTOCOL.md
#                       (their payload is the example's own bytes)
#   message NAME        the message (spec/prb.toml [[message]] name), or
#   struct NAME         a struct decoded on its own: extent, or hdr (the common header
#                       as a receiver decodes its first hdr_size bytes: magic, reserved
#                       flags, hlen, plen against hlen and digests, a known opcode,
#                       a known status, in this order)
#   field NAME VALUE    a field's value: hdr.NAME for the common header, else a body
#                       field; unsigned decimal, or 32 hex digits for bytes16.
#                       Reserved fields are zero and not listed.
#   payload_len N       payload bytes announced by hdr.plen (messages with a payload)
#   hex HEX             the fixed part (hlen bytes, or fewer when truncated) in hex:
#                       what a decoder reads and an encoder writes
#   pdu HEX             the whole PDU: fixed part, header digest (HDGST), payload,
#                       data digest (DDGST); given for valid vectors whose PDU is more
#                       than the fixed part, when the payload is small. Data payloads
#                       are bytes (i * 7 + 1) mod 256.
#   expect ok           decoding 'hex' succeeds with these field values, and
#                       encoding the values gives 'hex' back, byte for byte
#   expect ERRNO OFFSET decoding 'hex' fails with this errno name and reports the
#                       field at byte OFFSET of the PDU (the list below)
#
# 'valid' and 'ok' mean that the bytes decode: a well-formed PDU. Whether a receiver
# may act on it (a HELLO after the first, a response sent to a brick, a WRITE on the
# RDMA binding) is decided by the rules of PROTOCOL.md, not by the vectors.
#
# Everything is little-endian. Digests are CRC32C (Castagnoli), stored le32; the
# header digest is followed by 4 zero bytes. Error responses (status != 0) are the
# header alone and decode with every body field zero.
#
# Decoder failures, in the order a decoder checks (the first that applies is
# expected):
""" + "".join(f"#   {name:<11} {what}; blames {blamed}\n" for name, what, blamed in DECODE_ERRORS)


# ---------------------------------------------------------------- CRC32C


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---------------------------------------------------------------- values and bytes


def field_limits(f: Field) -> tuple[int, int, int]:
    """(lowest, highest, step) of the valid values of a numeric field."""
    step = f.align or 1
    low = f.min or 0
    high = f.max if f.max is not None else f.type_max
    low = -(-low // step) * step
    high = high // step * step
    return low, high, step


def random_value(rng: random.Random, f: Field):
    if f.is_bytes:
        return bytes(rng.randrange(256) for _ in range(f.size))
    if f.enum:
        return rng.choice(f.enum.values).value
    if f.flags:
        return sum(v.value for v in f.flags.values if rng.random() < 0.5)
    if f.equals is not None:
        return f.equals
    low, high, step = field_limits(f)
    # Most random values in the low range (counts, offsets), some anywhere.
    top = high if rng.random() < 0.3 else min(high, low + step * 1000)
    return low + rng.randrange((top - low) // step + 1) * step


def edge_value(f: Field, maximum: bool):
    if f.is_bytes:
        return bytes([0xFF if maximum else 0] * f.size)
    if f.enum:
        values = sorted(v.value for v in f.enum.values)
        return values[-1] if maximum else values[0]
    if f.flags:
        return f.flags.mask if maximum else 0
    if f.equals is not None:
        return f.equals
    low, high, _ = field_limits(f)
    return high if maximum else low


def put(buf: bytearray, f: Field, value) -> None:
    if f.is_bytes:
        buf[f.offset:f.end] = value
    else:
        buf[f.offset:f.end] = pystruct.pack(PACK[f.type], value)


def hdr_field(spec: Spec, name: str) -> Field:
    return next(f for f in spec.hdr.fields if f.name == name)


def flag_bit(spec: Spec, name: str) -> int:
    return hdr_field(spec, "flags").flags.value(name).value


class Pdu:
    """One message's values, and its bytes."""

    def __init__(self, spec: Spec, m: Message, body: dict, payload_len: int, flags: int,
                 tag: int, status: int = 0):
        self.spec, self.m = spec, m
        self.body = body
        self.payload_len = payload_len
        error = status != 0
        hlen = spec.hdr.size if error else m.size
        plen = hlen + payload_len
        if flags & flag_bit(spec, "HDGST"):
            plen += spec.constant("hdgst_size")
        if flags & flag_bit(spec, "DDGST"):
            plen += spec.constant("ddgst_size")
        self.hdr = {"magic": spec.constant("magic"), "opcode": m.opcode_byte, "flags": flags,
                    "plen": plen, "tag": tag, "status": status, "hlen": hlen}
        if error:
            self.body = {f.name: (bytes(f.size) if f.is_bytes else 0) for f in m.fields
                         if not f.reserved}

    def fixed(self) -> bytearray:
        buf = bytearray(self.hdr["hlen"])
        for f in self.spec.hdr.fields:
            put(buf, f, self.hdr[f.name])
        if self.hdr["hlen"] > self.spec.hdr.size:
            for f in self.m.fields:
                if not f.reserved:
                    put(buf, f, self.body[f.name])
        return buf

    def payload(self) -> bytes:
        if self.m.payload == "extents":
            return b"".join(self.extents)
        return bytes((i * 7 + 1) % 256 for i in range(self.payload_len))

    def whole(self) -> bytes:
        fixed = bytes(self.fixed())
        out = fixed
        if self.hdr["flags"] & flag_bit(self.spec, "HDGST"):
            out += pystruct.pack("<I", crc32c(fixed)) + bytes(4)
        payload = self.payload()
        out += payload
        if self.hdr["flags"] & flag_bit(self.spec, "DDGST"):
            out += pystruct.pack("<I", crc32c(payload))
        return out

    def lines(self) -> list[str]:
        out = [f"message {self.m.name}"]
        out += [f"field hdr.{k} {v}" for k, v in self.hdr.items()]
        for f in self.m.fields:
            if not f.reserved:
                v = self.body[f.name]
                out.append(f"field {f.name} {v.hex() if f.is_bytes else v}")
        if self.m.payload != "none":
            out.append(f"payload_len {self.payload_len}")
        return out


# ---------------------------------------------------------------- valid vectors


class Vectors:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.rng = random.Random(SEED)
        self.out: list[str] = []

    def record(self, name: str, lines: list[str], hexbytes: bytes, expect: str,
               pdu: bytes | None = None) -> None:
        self.out += [f"vector {name}"] + lines + [f"hex {hexbytes.hex()}"]
        if pdu is not None:
            self.out.append(f"pdu {pdu.hex()}")
        self.out += [f"expect {expect}", ""]

    def extent_bytes(self, values: dict) -> bytes:
        buf = bytearray(self.spec.struct("extent").size)
        for f in self.spec.struct("extent").fields:
            put(buf, f, 0 if f.reserved else values[f.name])
        return bytes(buf)

    def random_extent(self) -> dict:
        return {f.name: random_value(self.rng, f)
                for f in self.spec.struct("extent").fields if not f.reserved}

    def payload_for(self, m: Message, body: dict, size: int | None) -> tuple[int, list[bytes]]:
        """Set the payload_length field, and return (payload_len, extent records)."""
        pf = m.payload_field
        if m.payload == "none":
            return 0, []
        if m.payload == "extents":
            count = self.rng.randrange(4) if size is None else size
            body[pf.name] = count
            records = [self.extent_bytes(self.random_extent()) for _ in range(min(count, 4))]
            return count * self.spec.struct("extent").size, records
        if pf is not None:
            n = body[pf.name] if size is None else size
            if size is None and n > SMALL_PAYLOAD:
                n = self.rng.randrange(1, SMALL_PAYLOAD + 1)
            body[pf.name] = n
            return n, []
        if size is not None:
            return size, []
        return self.rng.randrange(SMALL_PAYLOAD + 1), []

    def make(self, m: Message, body: dict, flags: int, tag: int, payload_size=None,
             status: int = 0) -> Pdu:
        payload_len, extents = self.payload_for(m, body, payload_size)
        if payload_len == 0:
            flags &= ~flag_bit(self.spec, "DDGST")
        pdu = Pdu(self.spec, m, body, payload_len, flags, tag, status)
        pdu.extents = extents
        return pdu

    def emit_valid(self, name: str, pdu: Pdu) -> None:
        small = pdu.payload_len <= SMALL_PAYLOAD * 16 and (
            pdu.m.payload != "extents" or len(pdu.extents) * 16 == pdu.payload_len)
        fixed, whole = bytes(pdu.fixed()), pdu.whole()
        self.record(name, pdu.lines(), fixed, "ok", whole if small and whole != fixed else None)

    def digest_flags(self) -> int:
        hdgst, ddgst = flag_bit(self.spec, "HDGST"), flag_bit(self.spec, "DDGST")
        return self.rng.choice([0, hdgst, ddgst, hdgst | ddgst])

    def valid(self, m: Message) -> Pdu:
        """Emit m's valid vectors; return a plain one (no digests) to mutate."""
        fields = [f for f in m.fields if not f.reserved]
        base = None
        for i in range(RANDOM_VECTORS):
            body = {f.name: random_value(self.rng, f) for f in fields}
            flags = self.digest_flags() if i else 0
            pdu = self.make(m, body, flags, self.rng.randrange(1 << 32))
            self.emit_valid(f"{m.name}/valid/random{i}", pdu)
            base = base or pdu
        low = {f.name: edge_value(f, False) for f in fields}
        self.emit_valid(f"{m.name}/valid/min", self.make(m, low, 0, 0, payload_size=self.min_payload(m)))
        high = {f.name: edge_value(f, True) for f in fields}
        all_flags = hdr_field(self.spec, "flags").flags.mask
        self.emit_valid(f"{m.name}/valid/max",
                        self.make(m, high, all_flags, 0xFFFFFFFF, payload_size=self.max_payload(m)))
        self.unknown_bits(m, fields)
        if m.is_response:
            status = self.spec.enum("status")
            for i, flags in enumerate((0, flag_bit(self.spec, "HDGST"))):
                code = self.rng.choice([v.value for v in status.values if v.value])
                pdu = self.make(m, {}, flags, self.rng.randrange(1 << 32), payload_size=0,
                                status=code)
                self.emit_valid(f"{m.name}/valid/error{i}", pdu)
        return base

    def unknown_bits(self, m: Message, fields: list[Field]) -> None:
        """Where a flags field ignores unknown bits: a valid vector with every bit of it set
        (the decoder keeps them as received)."""
        ignoring = [f for f in fields if f.ignores_unknown_bits]
        if not ignoring:
            return
        rng = random.Random(f"{SEED}/{m.name}/unknown_bits")  # the other vectors stay as they were
        body = {f.name: random_value(rng, f) for f in fields}
        for f in ignoring:
            body[f.name] = f.type_max
        self.emit_valid(f"{m.name}/valid/unknown_bits", self.make(m, body, 0, 1))

    def min_payload(self, m: Message) -> int | None:
        pf = m.payload_field
        if m.payload == "none":
            return None
        if pf is not None:
            return edge_value(pf, False)
        return 0

    def max_payload(self, m: Message) -> int | None:
        pf = m.payload_field
        if m.payload == "none":
            return None
        if pf is not None:
            return edge_value(pf, True)
        return m.payload_max

    # ---------------------------------------------------------------- invalid vectors

    def invalid(self, base: Pdu) -> None:
        m, spec = base.m, self.spec
        good = bytes(base.fixed())
        hdr = {f.name: f for f in spec.hdr.fields}

        def emit(what: str, buf: bytes, errno: str, offset: int):
            self.record(f"{m.name}/invalid/{what}", [f"message {m.name}"], buf,
                        f"{errno} {offset}")

        def with_field(f: Field, value, base_bytes: bytes = good) -> bytes:
            buf = bytearray(base_bytes)
            put(buf, f, value)
            return bytes(buf)

        for n in sorted({0, 1, spec.hdr.size - 1, spec.hdr.size, m.size - 1} - {m.size}):
            if n < m.size:
                emit(f"truncated/{n}", good[:n], "EMSGSIZE", n)
        emit("magic", with_field(hdr["magic"], spec.constant("magic") ^ 0x0101), "EPROTO", 0)
        flags = hdr["flags"]
        for bit in range(8 * flags.size):
            if not flags.flags.mask >> bit & 1:
                emit(f"hdr.flags/bit{bit}", with_field(flags, 1 << bit), "EINVAL", flags.offset)
        emit("opcode/unknown", with_field(hdr["opcode"], self.unknown_opcode()), "EOPNOTSUPP",
             hdr["opcode"].offset)
        other = next(x for x in spec.messages if x.opcode_byte != m.opcode_byte)
        emit(f"opcode/{other.name}", with_field(hdr["opcode"], other.opcode_byte), "ENOMSG",
             hdr["opcode"].offset)
        self.invalid_lengths(base, good, emit, with_field)
        self.invalid_status(m, good, emit, with_field)
        for f in m.fields:
            if not f.payload_length:
                for what, value, errno in self.bad_values(f):
                    emit(f"{f.name}/{what}", with_field(f, value), errno, f.offset)
        self.invalid_payload(base, good, emit, with_field)

    def unknown_opcode(self) -> int:
        used = {m.opcode_byte for m in self.spec.messages}
        return next(b for b in range(0x7F, 0, -1) if b not in used)

    def invalid_lengths(self, base: Pdu, good: bytes, emit, with_field) -> None:
        spec, m = self.spec, base.m
        hdr = {f.name: f for f in spec.hdr.fields}
        hlen, plen = hdr["hlen"], hdr["plen"]
        for delta in (8, -8, 4):
            buf = with_field(hlen, m.size + delta)
            buf = with_field(plen, base.hdr["plen"] + delta, buf)
            emit(f"hlen/{m.size + delta}", buf, "EBADMSG", hlen.offset)
        emit("plen/below_hlen", with_field(plen, m.size - 1), "EBADMSG", plen.offset)
        buf = with_field(hdr["flags"], flag_bit(spec, "DDGST"))
        buf = with_field(plen, m.size + spec.constant("ddgst_size"), buf)
        emit("flags/ddgst_without_payload", buf, "EBADMSG", hdr["flags"].offset)
        if m.payload == "none":
            emit("plen/payload", with_field(plen, m.size + 8), "EBADMSG", plen.offset)
            hdgst = flag_bit(spec, "HDGST")
            emit("flags/hdgst_without_digest", with_field(hdr["flags"], hdgst), "EBADMSG",
                 plen.offset)

    def invalid_status(self, m: Message, good: bytes, emit, with_field) -> None:
        status = next(f for f in self.spec.hdr.fields if f.name == "status")
        if m.is_response:
            for what, value, errno in self.bad_values(status):
                emit(f"hdr.status/{what}", with_field(status, value), errno, status.offset)
            if m.size > self.spec.hdr.size:
                emit("error_response/full_size", with_field(status, 1), "EBADMSG",
                     next(f for f in self.spec.hdr.fields if f.name == "hlen").offset)
        else:
            emit("hdr.status/nonzero", with_field(status, 1), "EINVAL", status.offset)

    def invalid_payload(self, base: Pdu, good: bytes, emit, with_field) -> None:
        m, spec = base.m, self.spec
        plen = next(f for f in spec.hdr.fields if f.name == "plen")
        pf = m.payload_field
        if pf is not None:
            # The payload length is checked first (a framing fact), then the field's bounds:
            # below min with a matching payload, above max with a matching payload.
            unit = 1 if m.payload == "data" else spec.struct("extent").size
            for value in (base.body[pf.name] + 1, pf.type_max):
                emit(f"{pf.name}/payload_mismatch_{value}", with_field(pf, value), "EBADMSG",
                     pf.offset)
            if pf.min is not None:
                buf = with_field(pf, pf.min - 1)
                buf = with_field(plen, m.size + (pf.min - 1) * unit, buf)
                emit(f"{pf.name}/below_min", buf, "EINVAL", pf.offset)
            buf = with_field(pf, pf.max + 1)
            buf = with_field(plen, m.size + (pf.max + 1) * unit, buf)
            emit(f"{pf.name}/above_max", buf, "E2BIG", plen.offset)
        if m.payload == "data" and pf is None and m.payload_max is not None:
            emit("plen/payload_above_max", with_field(plen, m.size + m.payload_max + 1), "E2BIG",
                 plen.offset)

    @staticmethod
    def bad_values(f: Field) -> list[tuple[str, int, str]]:
        """(name, value, errno) of each way a single field can be wrong."""
        if f.is_bytes:
            return []
        if f.reserved:
            return [(f"bit{b}", 1 << b, "EINVAL") for b in range(8 * f.size)]
        if f.enum:
            members = {v.value for v in f.enum.values}
            outside = [max(members) + 1, f.type_max] + ([0] if 0 not in members else [])
            return [(f"enum_{v}", v, "ERANGE") for v in sorted(set(outside))
                    if v not in members and v <= f.type_max]
        if f.flags:
            if f.ignores_unknown_bits:
                return []  # every value is valid: see Vectors.unknown_bits
            undefined = [b for b in range(8 * f.size) if not f.flags.mask >> b & 1]
            return [(f"undefined_bit{b}", 1 << b, "EINVAL") for b in {undefined[0], undefined[-1]}]
        out = []
        if f.equals is not None:
            out.append(("not_equal", f.equals ^ 1, "EINVAL"))
            return out
        low, high, step = field_limits(f)
        if f.align is not None:
            out.append(("misaligned", low + step // 2, "EINVAL"))
            out.append(("misaligned_by_1", low + 1, "EINVAL"))
        if f.min is not None and f.min > 0:
            out.append(("below_min", f.min - 1, "EINVAL"))
        if f.max is not None and f.max < f.type_max:
            out.append(("above_max", f.max + 1, "E2BIG"))
            out.append(("type_max", f.type_max, "E2BIG"))
        return out

    # ---------------------------------------------------------------- structs

    def struct_vectors(self, s: Struct) -> None:
        fields = [f for f in s.fields if not f.reserved]
        good = None
        variants = [{f.name: random_value(self.rng, f) for f in fields} for _ in range(RANDOM_VECTORS)]
        variants += [{f.name: edge_value(f, False) for f in fields},
                     {f.name: edge_value(f, True) for f in fields}]
        for i, values in enumerate(variants):
            buf = bytearray(s.size)
            for f in s.fields:
                put(buf, f, 0 if f.reserved else values[f.name])
            lines = [f"struct {s.name}"] + [
                f"field {f.name} {values[f.name].hex() if f.is_bytes else values[f.name]}"
                for f in fields]
            self.record(f"{s.name}/valid/{i}", lines, bytes(buf), "ok")
            good = good or bytes(buf)
        for n in (0, s.size - 1):
            self.record(f"{s.name}/invalid/truncated/{n}", [f"struct {s.name}"], good[:n],
                        f"EMSGSIZE {n}")
        for f in s.fields:
            for what, value, errno in self.bad_values(f):
                buf = bytearray(good)
                put(buf, f, value)
                self.record(f"{s.name}/invalid/{f.name}/{what}", [f"struct {s.name}"], bytes(buf),
                            f"{errno} {f.offset}")


    def hdr_vectors(self) -> None:
        """The common header decoded alone, as a receiver does with the first hdr_size
        bytes: checks 1 to 4 of PRB-PDU-12, then a known opcode, then a known status."""
        spec, hdr = self.spec, self.spec.hdr
        fields = {f.name: f for f in hdr.fields}

        def emit(name: str, values: dict, expect: str):
            buf = bytearray(hdr.size)
            for f in hdr.fields:
                put(buf, f, values[f.name])
            lines = [f"struct {hdr.name}"]
            if expect == "ok":
                lines += [f"field {k} {v}" for k, v in values.items()]
            self.record(f"{hdr.name}/{name}", lines, bytes(buf), expect)

        for i in range(RANDOM_VECTORS):
            m = self.rng.choice(spec.messages)
            body = {f.name: random_value(self.rng, f) for f in m.fields if not f.reserved}
            status = 0
            if m.is_response and i % 2:
                status = self.rng.choice([v.value for v in spec.enum("status").values if v.value])
            pdu = self.make(m, body, self.digest_flags(), self.rng.randrange(1 << 32),
                            payload_size=0 if status else None, status=status)
            emit(f"valid/{i}/{m.name}", dict(pdu.hdr), "ok")
        alloc = next(m for m in spec.messages if m.opcode.name == "ALLOC" and m.is_request)
        good = {"magic": spec.constant("magic"), "opcode": alloc.opcode_byte, "flags": 0,
                "plen": alloc.size, "tag": 1, "status": 0, "hlen": alloc.size}
        self.record(f"{hdr.name}/invalid/truncated/0", [f"struct {hdr.name}"], b"",
                    "EMSGSIZE 0")
        self.record(f"{hdr.name}/invalid/truncated/{hdr.size - 1}", [f"struct {hdr.name}"],
                    bytes(hdr.size - 1), f"EMSGSIZE {hdr.size - 1}")
        hdgst, ddgst = flag_bit(spec, "HDGST"), flag_bit(spec, "DDGST")
        cases = [
            ("magic", {"magic": good["magic"] ^ 0x0101}, "EPROTO", "magic"),
            ("hlen/8", {"hlen": 8, "plen": 8}, "EBADMSG", "hlen"),
            (f"hlen/{alloc.size + 4}", {"hlen": alloc.size + 4, "plen": alloc.size + 4},
             "EBADMSG", "hlen"),
            ("plen/below_hlen", {"plen": alloc.size - 1}, "EBADMSG", "plen"),
            ("plen/no_header_digest", {"flags": hdgst}, "EBADMSG", "plen"),
            ("plen/no_data_digest", {"flags": ddgst, "plen": alloc.size + 3}, "EBADMSG", "plen"),
            ("opcode/unknown", {"opcode": self.unknown_opcode()}, "EOPNOTSUPP", "opcode"),
            ("opcode/term_response", {"opcode": 0xFF}, "EOPNOTSUPP", "opcode"),
        ]
        flags = fields["flags"]
        cases += [(f"flags/bit{b}", {"flags": 1 << b}, "EINVAL", "flags")
                  for b in range(8 * flags.size) if not flags.flags.mask >> b & 1]
        status = fields["status"]
        cases += [(f"status/{what}", {"status": value}, errno, "status")
                  for what, value, errno in self.bad_values(status)]
        for what, change, errno, at in cases:
            emit(f"invalid/{what}", {**good, **change}, f"{errno} {fields[at].offset}")


def generate(spec: Spec) -> str:
    v = Vectors(spec)
    v.hdr_vectors()
    for m in spec.messages:
        base = v.valid(m)
        v.invalid(base)
    for s in spec.structs:
        if s is not spec.hdr:
            v.struct_vectors(s)
    import gen_examples  # here: it builds on this module's encoder
    for name, pdu in gen_examples.vectors(spec):
        v.record(name, pdu.lines(), bytes(pdu.fixed()), "ok", pdu.whole())
    return FORMAT + "\n" + "\n".join(v.out)
