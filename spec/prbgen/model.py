"""Load spec/prb.toml, check it, and expose it as a typed model.

Every generator (C codec, doc tables, test vectors, Wireshark tables) reads the
spec only through load(). load() checks the whole spec before returning and
raises SpecError naming the file, line and entry at fault, so no generator ever
emits code from a broken spec.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Width in bytes of each field type; every field is aligned to its width
# (bytes16 is an opaque array: aligned to 8, like the u64 next to it).
TYPE_SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "bytes16": 16}
TYPE_ALIGN = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "bytes16": 8}
ENUM_TYPES = ("u8", "u16", "u32")
DIRECTIONS = ("request", "response", "either")
PAYLOADS = ("none", "data", "extents")
# What a decoder does with the bits of a flags field that its enum does not define:
# "reserved" (they must be zero: EINVAL) or "ignore" (accepted and kept as received, so
# that a later version can define them; PRB-VER-8).
UNKNOWN_BITS = ("reserved", "ignore")
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_IDENT = re.compile(r"^[A-Z][A-Z0-9_]*$")

# Constants the codec and its helpers need by name.
REQUIRED_CONSTANTS = (
    "magic", "version", "block_shift", "block_size", "tcp_port", "rdma_port", "hdr_size",
    "hdgst_size", "ddgst_size", "crc32c_size", "opcode_response", "rdma_req_private_data",
    "rdma_rsp_private_data",
)
HDR_FIELDS = ("magic", "opcode", "flags", "plen", "tag", "status", "hlen")


class SpecError(Exception):
    """A spec mistake: str() is 'FILE:LINE: ENTRY: what is wrong'."""


@dataclass
class Constant:
    name: str
    value: int
    doc: str
    literal: str = ""  # the value as the spec spells it (0x5250), for generated code


@dataclass
class EnumValue:
    name: str
    value: int
    doc: str
    literal: str = ""


@dataclass
class Enum:
    name: str
    prefix: str
    type: str
    kind: str  # "enum" or "flags"
    doc: str
    values: list[EnumValue]

    @property
    def is_flags(self) -> bool:
        return self.kind == "flags"

    @property
    def mask(self) -> int:
        """Every defined bit (flags) or every value OR-ed (enum)."""
        m = 0
        for v in self.values:
            m |= v.value
        return m

    def value(self, name: str) -> EnumValue | None:
        return next((v for v in self.values if v.name == name), None)

    def c_name(self, v: EnumValue) -> str:
        return f"PRB_{self.prefix}_{v.name}"


@dataclass
class Field:
    name: str
    type: str
    offset: int
    size: int
    doc: str
    enum: Enum | None = None
    flags: Enum | None = None
    reserved: bool = False
    align: int | None = None
    min: int | None = None
    max: int | None = None
    equals: int | None = None
    # The spelling of align/min/max/equals in the spec: a constant name or None (a number).
    align_ref: str | None = None
    min_ref: str | None = None
    max_ref: str | None = None
    equals_ref: str | None = None
    # This field holds the payload length: bytes (payload "data") or records ("extents").
    payload_length: bool = False
    # flags fields: what the bits outside the enum are, one of UNKNOWN_BITS.
    unknown_bits: str = "reserved"

    @property
    def ignores_unknown_bits(self) -> bool:
        return self.flags is not None and self.unknown_bits == "ignore"

    @property
    def accepted_mask(self) -> int:
        """flags fields: the bits a decoder accepts (every bit when unknown ones are ignored)."""
        return self.type_max if self.ignores_unknown_bits else self.flags.mask

    @property
    def reserved_mask(self) -> int:
        """The bits that must be zero: a reserved field's all, a flags field's undefined ones
        (none when they are ignored), else none."""
        if self.reserved:
            return self.type_max
        if self.flags is not None:
            return self.type_max & ~self.accepted_mask
        return 0

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def is_bytes(self) -> bool:
        return self.type == "bytes16"

    @property
    def type_max(self) -> int:
        return (1 << (8 * self.size)) - 1


@dataclass
class Struct:
    name: str
    size: int
    doc: str
    fields: list[Field]


@dataclass
class Message:
    name: str
    opcode: EnumValue  # member of the opcode enum
    opcode_byte: int  # with the response bit for responses
    direction: str
    size: int
    payload: str
    doc: str
    fields: list[Field]  # body fields (the header is spec.hdr)
    payload_max: int | None = None  # largest payload in bytes, when bounded by the spec
    payload_max_ref: str | None = None

    @property
    def is_response(self) -> bool:
        return self.direction == "response"

    @property
    def is_request(self) -> bool:
        return self.direction == "request"

    @property
    def payload_field(self) -> Field | None:
        return next((f for f in self.fields if f.payload_length), None)


@dataclass
class Spec:
    path: Path
    name: str
    title: str
    version: int
    min_version: int
    constants: list[Constant]
    enums: list[Enum]
    structs: list[Struct]
    messages: list[Message]

    def constant(self, name: str) -> int:
        return next(c.value for c in self.constants if c.name == name)

    def enum(self, name: str) -> Enum:
        return next(e for e in self.enums if e.name == name)

    def struct(self, name: str) -> Struct:
        return next(s for s in self.structs if s.name == name)

    def message(self, name: str) -> Message:
        return next(m for m in self.messages if m.name == name)

    @property
    def hdr(self) -> Struct:
        return self.struct("hdr")

    @property
    def opcodes(self) -> Enum:
        return self.enum("opcode")


# ---------------------------------------------------------------- locating entries


class _Lines:
    """Line numbers of the spec's tables and keys, in tomllib's array order.

    tomllib keeps no positions, but arrays of tables keep file order: the i-th
    '[[message]]' line is data['message'][i], the j-th '[[message.field]]' after
    it is its j-th field. That is all we need to name the line at fault.
    """

    def __init__(self, text: str):
        self.tables: dict[tuple, int] = {}
        self.keys: dict[tuple, int] = {}
        self.raw: dict[tuple, str] = {}
        counts: dict[tuple, int] = {}
        current: tuple = ()
        parent: tuple = ()
        for lineno, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            m = re.match(r"^\[\[([a-z]+)(?:\.([a-z]+))?\]\]", s)
            if m:
                top, sub = m.groups()
                if sub is None:
                    i = counts.get((top,), 0)
                    counts[(top,)] = i + 1
                    parent = current = (top, i)
                else:
                    j = counts.get(parent + (sub,), 0)
                    counts[parent + (sub,)] = j + 1
                    current = parent + (sub, j)
                self.tables[current] = lineno
                continue
            m = re.match(r"^\[([a-z]+)\]", s)
            if m:
                parent = current = (m.group(1),)
                self.tables[current] = lineno
                continue
            m = re.match(r"^([A-Za-z0-9_]+)\s*=\s*([^#]*)", s)
            if m and current:
                self.keys.setdefault(current + (m.group(1),), lineno)
                self.raw.setdefault(current + (m.group(1),), m.group(2).strip())

    def literal(self, where: tuple, key: str, value: int) -> str:
        """An integer as the spec spells it, when C spells it the same; else decimal."""
        raw = self.raw.get(where + (key,), "")
        if re.fullmatch(r"0x[0-9A-Fa-f]+|[1-9][0-9]*|0", raw) and int(raw, 0) == value:
            return raw
        return str(value)

    def line(self, where: tuple, key: str | None = None) -> int:
        if key is not None and where + (key,) in self.keys:
            return self.keys[where + (key,)]
        return self.tables.get(where, 0)


# ---------------------------------------------------------------- loading and checking


class _Loader:
    def __init__(self, path: Path):
        self.path = path
        text = path.read_text(encoding="utf-8")
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SpecError(f"{path}: not valid TOML: {e}") from None
        self.lines = _Lines(text)
        self.constants: dict[str, Constant] = {}
        self.enums: dict[str, Enum] = {}

    def fail(self, where: tuple, entry: str, what: str, key: str | None = None):
        raise SpecError(f"{self.path}:{self.lines.line(where, key)}: {entry}: {what}")

    def keys(self, table: dict, where: tuple, entry: str, required: tuple, optional: tuple = ()):
        for k in table:
            if k not in required and k not in optional:
                self.fail(where, entry, f"unknown key '{k}'", k)
        for k in required:
            if k not in table:
                self.fail(where, entry, f"missing key '{k}'")

    def typed(self, table: dict, key: str, kind, where: tuple, entry: str):
        v = table[key]
        if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            self.fail(where, entry, f"'{key}' must be an integer", key)
        if not isinstance(v, kind):
            self.fail(where, entry, f"'{key}' must be a {kind.__name__}", key)
        if kind is str and key == "doc" and not v.strip():
            self.fail(where, entry, "'doc' is empty", key)
        return v

    def array(self, name: str) -> list[tuple[tuple, dict]]:
        items = self.data.get(name, [])
        if not isinstance(items, list):
            self.fail((name,), name, f"'{name}' must be an array of tables ([[{name}]])")
        return [((name, i), t) for i, t in enumerate(items)]

    def unique(self, seen: dict, key, where: tuple, entry: str, what: str, k: str):
        if key in seen:
            self.fail(where, entry, f"duplicate {what} (first at line {seen[key]})", k)
        seen[key] = self.lines.line(where, k)

    # -- top level

    def load(self) -> Spec:
        for k in self.data:
            if k not in ("protocol", "constant", "enum", "struct", "message"):
                self.fail((k,), k, f"unknown top-level table '{k}'")
        proto = self.protocol()
        for where, t in self.array("constant"):
            self.constant(where, t)
        for name in REQUIRED_CONSTANTS:
            if name not in self.constants:
                self.fail(("protocol",), "constants", f"required constant '{name}' is missing")
        self.constant_checks(proto)
        for where, t in self.array("enum"):
            self.enum(where, t)
        structs = self.structs()
        messages = self.messages(structs)
        spec = Spec(self.path, proto["name"], proto["title"], proto["version"],
                    proto["min_version"], list(self.constants.values()),
                    list(self.enums.values()), structs, messages)
        self.cross_checks(spec)
        return spec

    def protocol(self) -> dict:
        where = ("protocol",)
        p = self.data.get("protocol")
        if not isinstance(p, dict):
            self.fail(where, "protocol", "missing [protocol] table")
        self.keys(p, where, "protocol", ("name", "title", "version", "min_version"))
        for k in ("name", "title"):
            self.typed(p, k, str, where, "protocol")
        for k in ("version", "min_version"):
            if self.typed(p, k, int, where, "protocol") < 1:
                self.fail(where, "protocol", f"'{k}' must be >= 1", k)
        if p["min_version"] > p["version"]:
            self.fail(where, "protocol", "min_version is above version", "min_version")
        return p

    def constant(self, where: tuple, t: dict):
        entry = f"constant {t.get('name', '?')}"
        self.keys(t, where, entry, ("name", "value", "doc"))
        name = self.typed(t, "name", str, where, entry)
        if not IDENT.match(name):
            self.fail(where, entry, "name must be lower_snake_case", "name")
        if name in self.constants:
            self.fail(where, entry, "duplicate constant name", "name")
        value = self.typed(t, "value", int, where, entry)
        if not 0 <= value < 1 << 64:
            self.fail(where, entry, "value must fit an unsigned 64-bit integer", "value")
        self.constants[name] = Constant(name, value, self.typed(t, "doc", str, where, entry),
                                        self.lines.literal(where, "value", value))

    def enum(self, where: tuple, t: dict):
        entry = f"enum {t.get('name', '?')}"
        self.keys(t, where, entry, ("name", "prefix", "type", "kind", "doc", "value"))
        name = self.typed(t, "name", str, where, entry)
        if not IDENT.match(name):
            self.fail(where, entry, "name must be lower_snake_case", "name")
        if name in self.enums:
            self.fail(where, entry, "duplicate enum name", "name")
        prefix = self.typed(t, "prefix", str, where, entry)
        if not VALUE_IDENT.match(prefix):
            self.fail(where, entry, "prefix must be UPPER_SNAKE_CASE", "prefix")
        if any(e.prefix == prefix for e in self.enums.values()):
            self.fail(where, entry, f"prefix '{prefix}' already used by another enum", "prefix")
        etype = self.typed(t, "type", str, where, entry)
        if etype not in ENUM_TYPES:
            self.fail(where, entry, f"type must be one of {', '.join(ENUM_TYPES)}", "type")
        kind = self.typed(t, "kind", str, where, entry)
        if kind not in ("enum", "flags"):
            self.fail(where, entry, "kind must be 'enum' or 'flags'", "kind")
        doc = self.typed(t, "doc", str, where, entry)
        raw = t["value"]
        if not isinstance(raw, list) or not raw:
            self.fail(where, entry, "needs at least one [[enum.value]]", "value")
        values: list[EnumValue] = []
        names: dict = {}
        numbers: dict = {}
        limit = 1 << (8 * TYPE_SIZES[etype])
        for i, v in enumerate(raw):
            vw = where + ("value", i)
            ventry = f"{entry} value {v.get('name', '?')}"
            self.keys(v, vw, ventry, ("name", "value", "doc"))
            vname = self.typed(v, "name", str, vw, ventry)
            if not VALUE_IDENT.match(vname):
                self.fail(vw, ventry, "value name must be UPPER_SNAKE_CASE", "name")
            self.unique(names, vname, vw, ventry, "value name", "name")
            n = self.typed(v, "value", int, vw, ventry)
            if not 0 <= n < limit:
                self.fail(vw, ventry, f"value {n:#x} does not fit {etype}", "value")
            if kind == "flags" and (n == 0 or n & (n - 1)):
                self.fail(vw, ventry, f"flag value {n:#x} must be a single bit", "value")
            self.unique(numbers, n, vw, ventry, f"value {n:#x}", "value")
            values.append(EnumValue(vname, n, self.typed(v, "doc", str, vw, ventry),
                                    self.lines.literal(vw, "value", n)))
        self.enums[name] = Enum(name, prefix, etype, kind, doc, values)

    # -- fields, structs, messages

    def ref(self, t: dict, key: str, where: tuple, entry: str) -> tuple[int, str | None]:
        """A number, or the name of a constant: (value, constant name or None)."""
        v = t[key]
        if isinstance(v, str):
            if v not in self.constants:
                self.fail(where, entry, f"'{key}' names unknown constant '{v}'", key)
            return self.constants[v].value, v
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            self.fail(where, entry, f"'{key}' must be a non-negative integer or a constant name",
                      key)
        return v, None

    def field(self, where: tuple, t: dict, owner: str) -> Field:
        entry = f"{owner} field {t.get('name', '?')}"
        self.keys(t, where, entry, ("name", "type", "offset", "doc"),
                  ("enum", "flags", "reserved", "align", "min", "max", "equals",
                   "payload_length", "unknown_bits"))
        name = self.typed(t, "name", str, where, entry)
        if not IDENT.match(name):
            self.fail(where, entry, "name must be lower_snake_case", "name")
        ftype = self.typed(t, "type", str, where, entry)
        if ftype not in TYPE_SIZES:
            self.fail(where, entry, f"type must be one of {', '.join(TYPE_SIZES)}", "type")
        offset = self.typed(t, "offset", int, where, entry)
        if offset < 0 or offset % TYPE_ALIGN[ftype]:
            self.fail(where, entry, f"offset {offset} is not aligned to {TYPE_ALIGN[ftype]} "
                      f"({ftype})", "offset")
        f = Field(name, ftype, offset, TYPE_SIZES[ftype], self.typed(t, "doc", str, where, entry))
        constraints = [k for k in ("enum", "flags", "align", "min", "max", "equals",
                                   "payload_length", "unknown_bits") if k in t]
        if t.get("reserved", False) is not False:
            if t["reserved"] is not True:
                self.fail(where, entry, "'reserved' must be true when present", "reserved")
            if constraints:
                self.fail(where, entry, f"a reserved field takes no '{constraints[0]}'",
                          constraints[0])
            f.reserved = True
            return f
        if f.is_bytes and constraints:
            self.fail(where, entry, f"a bytes16 field takes no '{constraints[0]}'",
                      constraints[0])
        if "enum" in t and "flags" in t:
            self.fail(where, entry, "a field is either 'enum' or 'flags', not both", "flags")
        for key in ("enum", "flags"):
            if key in t:
                ename = self.typed(t, key, str, where, entry)
                e = self.enums.get(ename)
                if e is None:
                    self.fail(where, entry, f"'{key}' names unknown enum '{ename}'", key)
                if e.kind != key:
                    self.fail(where, entry, f"'{key}' names '{ename}', whose kind is {e.kind}",
                              key)
                if e.type != ftype:
                    self.fail(where, entry, f"field type {ftype} differs from {key} "
                              f"'{ename}' type {e.type}", key)
                setattr(f, key, e)
        if "unknown_bits" in t:
            if f.flags is None:
                self.fail(where, entry, "'unknown_bits' needs 'flags'", "unknown_bits")
            value = self.typed(t, "unknown_bits", str, where, entry)
            if value not in UNKNOWN_BITS:
                self.fail(where, entry, f"'unknown_bits' must be one of "
                          f"{', '.join(UNKNOWN_BITS)}", "unknown_bits")
            f.unknown_bits = value
        if (f.enum or f.flags) and any(k in t for k in ("align", "min", "max", "equals")):
            self.fail(where, entry, "an enum or flags field takes no align/min/max/equals")
        for key in ("align", "min", "max", "equals"):
            if key in t:
                value, ref = self.ref(t, key, where, entry)
                if value > f.type_max:
                    self.fail(where, entry, f"'{key}' {value} does not fit {ftype}", key)
                setattr(f, key, value)
                setattr(f, key + "_ref", ref)
        if f.align is not None and (f.align < 2 or f.align & (f.align - 1)):
            self.fail(where, entry, "'align' must be a power of two >= 2", "align")
        if f.min is not None and f.max is not None and f.min > f.max:
            self.fail(where, entry, f"min {f.min} is above max {f.max}", "min")
        if f.equals is not None and any(k in t for k in ("align", "min", "max")):
            self.fail(where, entry, "'equals' excludes align/min/max", "equals")
        if f.min == 0:
            self.fail(where, entry, "'min = 0' says nothing: drop it", "min")
        if "payload_length" in t:
            if t["payload_length"] is not True:
                self.fail(where, entry, "'payload_length' must be true when present",
                          "payload_length")
            f.payload_length = True
        return f

    def fields(self, where: tuple, t: dict, owner: str, start: int, size: int) -> list[Field]:
        """The fields of a struct or message body: no gap, no overlap, ending at size."""
        raw = t.get("field", [])
        if not isinstance(raw, list):
            self.fail(where, owner, "'field' must be an array of tables", "field")
        fields: list[Field] = []
        names: dict = {}
        end = start
        for j, ft in enumerate(raw):
            fw = where + ("field", j)
            f = self.field(fw, ft, owner)
            self.unique(names, f.name, fw, f"{owner} field {f.name}", "field name", "name")
            if f.name in ("hdr", "payload_len"):
                self.fail(fw, f"{owner} field {f.name}", "name is taken by the C struct", "name")
            if f.offset < end:
                prev = fields[-1].name if fields else "the common header"
                self.fail(fw, f"{owner} field {f.name}",
                          f"offset {f.offset} overlaps {prev} (which ends at {end})", "offset")
            if f.offset > end:
                self.fail(fw, f"{owner} field {f.name}",
                          f"gap of {f.offset - end} bytes before offset {f.offset}: "
                          f"declare a reserved field", "offset")
            end = f.end
            fields.append(f)
        if end != size:
            self.fail(where, owner, f"size {size} differs from the end of the last field ({end})",
                      "size")
        return fields

    def sized(self, t: dict, where: tuple, entry: str, minimum: int) -> int:
        size = self.typed(t, "size", int, where, entry)
        if size < minimum or size % 8:
            self.fail(where, entry, f"size {size} must be a multiple of 8 and >= {minimum}",
                      "size")
        return size

    def structs(self) -> list[Struct]:
        structs: list[Struct] = []
        names: dict = {}
        for where, t in self.array("struct"):
            entry = f"struct {t.get('name', '?')}"
            self.keys(t, where, entry, ("name", "size", "doc", "field"))
            name = self.typed(t, "name", str, where, entry)
            if not IDENT.match(name):
                self.fail(where, entry, "name must be lower_snake_case", "name")
            self.unique(names, name, where, entry, "struct name", "name")
            size = self.sized(t, where, entry, 8)
            doc = self.typed(t, "doc", str, where, entry)
            structs.append(Struct(name, size, doc, self.fields(where, t, entry, 0, size)))
        hdr = next((s for s in structs if s.name == "hdr"), None)
        if hdr is None:
            self.fail(("protocol",), "struct hdr", "the common header struct 'hdr' is missing")
        if hdr.size != self.constants["hdr_size"].value:
            self.fail(("struct", structs.index(hdr)), "struct hdr",
                      f"size {hdr.size} differs from constant hdr_size", "size")
        if tuple(f.name for f in hdr.fields) != HDR_FIELDS:
            self.fail(("struct", structs.index(hdr)), "struct hdr",
                      f"fields must be {', '.join(HDR_FIELDS)} in this order")
        for j, f in enumerate(hdr.fields):
            if f.ignores_unknown_bits:
                self.fail(("struct", structs.index(hdr), "field", j), f"struct hdr field {f.name}",
                          "header flags are framing (PRB-HDR-4): unknown bits cannot be "
                          "ignored", "unknown_bits")
        return structs

    def messages(self, structs: list[Struct]) -> list[Message]:
        opcodes = self.enums.get("opcode")
        if opcodes is None or opcodes.is_flags or opcodes.type != "u8":
            self.fail(("protocol",), "enum opcode", "a u8 enum named 'opcode' is required")
        response_bit = self.constants["opcode_response"].value
        hdr_size = self.constants["hdr_size"].value
        messages: list[Message] = []
        names: dict = {}
        bytes_seen: dict = {}
        for where, t in self.array("message"):
            entry = f"message {t.get('name', '?')}"
            self.keys(t, where, entry, ("name", "opcode", "direction", "size", "payload", "doc"),
                      ("field", "payload_max"))
            name = self.typed(t, "name", str, where, entry)
            if not IDENT.match(name):
                self.fail(where, entry, "name must be lower_snake_case", "name")
            self.unique(names, name, where, entry, "message name", "name")
            op = opcodes.value(self.typed(t, "opcode", str, where, entry))
            if op is None:
                self.fail(where, entry, f"opcode '{t['opcode']}' is not in enum opcode", "opcode")
            if op.value & response_bit:
                self.fail(where, entry, f"opcode {op.value:#x} has the response bit set",
                          "opcode")
            direction = self.typed(t, "direction", str, where, entry)
            if direction not in DIRECTIONS:
                self.fail(where, entry, f"direction must be one of {', '.join(DIRECTIONS)}",
                          "direction")
            byte = op.value | (response_bit if direction == "response" else 0)
            self.unique(bytes_seen, byte, where, entry, f"opcode byte {byte:#04x}", "opcode")
            if direction == "either":
                self.unique(bytes_seen, byte | response_bit, where, entry,
                            f"opcode byte {byte | response_bit:#04x}", "opcode")
            size = self.sized(t, where, entry, hdr_size)
            payload = self.typed(t, "payload", str, where, entry)
            if payload not in PAYLOADS:
                self.fail(where, entry, f"payload must be one of {', '.join(PAYLOADS)}",
                          "payload")
            doc = self.typed(t, "doc", str, where, entry)
            fields = self.fields(where, t, entry, hdr_size, size)
            m = Message(name, op, byte, direction, size, payload, doc, fields)
            if "payload_max" in t:
                if payload != "data":
                    self.fail(where, entry, "'payload_max' needs payload 'data'", "payload_max")
                m.payload_max, m.payload_max_ref = self.ref(t, "payload_max", where, entry)
            self.payload_checks(m, where, entry, structs)
            messages.append(m)
        return messages

    def payload_checks(self, m: Message, where: tuple, entry: str, structs: list[Struct]):
        counted = [f for f in m.fields if f.payload_length]
        if m.payload == "none" and counted:
            self.fail(where, entry, "'payload_length' field in a message without payload")
        if len(counted) > 1:
            self.fail(where, entry, "more than one 'payload_length' field")
        pf = counted[0] if counted else None
        if pf is not None and pf.max is None:
            self.fail(where, entry, f"payload_length field {pf.name} needs a 'max'")
        if m.payload == "extents":
            if not any(s.name == "extent" for s in structs):
                self.fail(where, entry, "payload 'extents' needs struct 'extent'", "payload")
            if pf is None:
                self.fail(where, entry, "payload 'extents' needs a payload_length (count) field",
                          "payload")
        if m.payload == "data" and pf is None and m.payload_max is None:
            self.fail(where, entry, "payload 'data' needs a bound: a payload_length field with "
                      "'max' or 'payload_max'", "payload")

    # -- whole-spec facts

    def const_fail(self, name: str, what: str):
        i = list(self.constants).index(name)
        self.fail(("constant", i), f"constant {name}", what, "value")

    def constant_checks(self, proto: dict):
        c = {k: v.value for k, v in self.constants.items()}
        if c["block_size"] != 1 << c["block_shift"]:
            self.const_fail("block_size", f"{c['block_size']} != 1 << block_shift "
                            f"({1 << c['block_shift']})")
        if c["version"] != proto["version"]:
            self.const_fail("version", f"{c['version']} differs from [protocol] version")
        for port in ("tcp_port", "rdma_port"):
            if not 1 <= c[port] <= 65535:
                self.const_fail(port, "a port is 1..65535")
        if c["opcode_response"] != 0x80:
            self.const_fail("opcode_response",
                            "the response bit is the top bit of the opcode byte (0x80)")
        if c["hdgst_size"] % 8:
            self.const_fail("hdgst_size", "a header digest keeps the payload 8-byte aligned: "
                            "a multiple of 8")
        if c["crc32c_size"] != 4:
            self.const_fail("crc32c_size", "a CRC32C is 32 bits: 4")
        if c["ddgst_size"] != c["crc32c_size"]:
            self.const_fail("ddgst_size", "the data digest is one CRC32C: = crc32c_size")
        if c["hdgst_size"] <= c["crc32c_size"]:
            self.const_fail("hdgst_size", "the header digest is a CRC32C and zero bytes: "
                            "above crc32c_size")

    def cross_checks(self, spec: Spec):
        c = {k: v.value for k, v in self.constants.items()}
        const_fail = self.const_fail
        if c["magic"] > spec.hdr.fields[0].type_max:
            const_fail("magic", "does not fit the header's magic field")
        if "min_max_pdu" in c:
            biggest = max(m.size for m in spec.messages) + c["hdgst_size"]
            if c["min_max_pdu"] < biggest:
                const_fail("min_max_pdu", f"smaller than the largest fixed part with its "
                           f"header digest ({biggest})")
        for e in ("status", "hdr_flags"):
            if e not in self.enums:
                self.fail(("protocol",), f"enum {e}", "required enum is missing")
        for v in ("HDGST", "DDGST"):
            if self.enums["hdr_flags"].value(v) is None:
                self.fail(("protocol",), "enum hdr_flags", f"needs value {v}")
        status = self.enums["status"]
        if status.is_flags or status.value("OK") is None or status.value("OK").value != 0:
            self.fail(("protocol",), "enum status", "needs kind 'enum' and OK = 0")
        for v in status.values:
            if v.name != "OK" and not v.name.startswith("E"):
                self.fail(("protocol",), f"enum status value {v.name}",
                          "status names are errno names (E...) so they map to errno")
        self.hello_checks(spec, c)
        self.c_name_checks(spec)
        used = {m.opcode.name for m in spec.messages}
        where = ("enum", list(self.enums).index("opcode"))
        for j, v in enumerate(spec.opcodes.values):
            if v.name not in used:
                self.fail(where + ("value", j), f"enum opcode value {v.name}",
                          "no message uses it")

    def c_name_checks(self, spec: Spec):
        """Two spec entries must not become the same C name (spec/CODEC.md, Names)."""
        macros: dict[str, str] = {"PRB_MSG_COUNT": "the message count"}
        types: dict[str, str] = {n: "the codec API" for n in (
            "hdr", "msg", "wire_error", "field_desc", "struct_desc", "msg_desc", "url",
            "msg_id", "field_kind", "field_check", "direction", "payload_kind", "transport")}

        def claim(table: dict, name: str, owner: str, where: tuple = ("protocol",)):
            if name in table and table[name] != owner:
                self.fail(where, owner, f"C name {name} is also {table[name]}")
            table[name] = owner

        for i, k in enumerate(spec.constants):
            claim(macros, f"PRB_{k.name.upper()}", f"constant {k.name}", ("constant", i))
        for i, e in enumerate(spec.enums):
            claim(types, e.name, f"enum {e.name}", ("enum", i))
            for j, v in enumerate(e.values):
                claim(macros, e.c_name(v), f"enum {e.name} value {v.name}",
                      ("enum", i, "value", j))
            if e.is_flags:
                claim(macros, f"PRB_{e.prefix}_ALL", f"enum {e.name} mask", ("enum", i))
        for i, st in enumerate(spec.structs):
            if st.name != "hdr":
                claim(types, st.name, f"struct {st.name}", ("struct", i))
            size = f"PRB_{st.name.upper()}_SIZE"
            if size not in macros:
                claim(macros, size, f"struct {st.name}", ("struct", i))
        for i, m in enumerate(spec.messages):
            claim(types, m.name, f"message {m.name}", ("message", i))
            claim(macros, f"PRB_{m.name.upper()}_SIZE", f"message {m.name}", ("message", i))
            claim(macros, f"PRB_MSG_{m.name.upper()}", f"message {m.name}", ("message", i))
        # Each field's offset and size macros (gen_c.py).
        for kind, owners in (("struct", spec.structs), ("message", spec.messages)):
            for i, o in enumerate(owners):
                for f in o.fields:
                    for what in ("OFFSET", "SIZE"):
                        claim(macros, f"PRB_{o.name.upper()}_{f.name.upper()}_{what}",
                              f"{kind} {o.name} field {f.name}", (kind, i))

    def hello_checks(self, spec: Spec, c: dict):
        limits = {"request": "rdma_req_private_data", "response": "rdma_rsp_private_data"}
        for i, m in enumerate(spec.messages):
            if m.opcode.name == "HELLO" and m.direction in limits:
                limit = limits[m.direction]
                if m.size > c[limit]:
                    self.fail(("message", i), f"message {m.name}",
                              f"size {m.size} exceeds {limit} ({c[limit]}): it travels in "
                              f"rdma_cm private data", "size")


def load(path: str | Path) -> Spec:
    """Read and check the spec; raise SpecError on the first mistake."""
    return _Loader(Path(path)).load()


def default_spec_path() -> Path:
    return Path(__file__).resolve().parent.parent / "prb.toml"
