"""Wireshark field tables (prb_ws_fields.h) for the dissector plugin.

One header, included by every source of dissector/src/: the spec's constants and
enum values as macros, an enum of header field ids, and (compiled once, where
PRB_WS_FIELDS_DEFINE is defined) the hf_register_info array, a value_string per
enum, the bit fields of every flags field and a field table per message that the
generic body dissector walks. Filter names are prb.<field>: a field name shared by
several messages with the same type and enum is one filter (prb.addr matches ALLOC,
FREE, MAP and LIST extents alike); reserved fields are all prb.reserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from model import Enum, Field, Message, Spec, Struct

# Presentation only (nothing here is a wire fact): fields shown in hex, and labels
# better than the capitalised spec name.
HEX_FIELDS = {"magic", "opcode", "handle", "raddr", "rkey", "compare", "swap", "add",
              "original"}
LABELS = {
    "plen": "PDU length",
    "hlen": "Fixed part length",
    "addr": "Address",
    "raddr": "Remote address",
    "rkey": "Remote key",
    "max_pdu": "Max PDU",
    "host_id": "Host ID",
    "brick_id": "Brick ID",
    "reserved": "Reserved",
}

# Filter names the plugin registers itself (dissector/src/plugin.c): links, digests,
# payload and RDMA annotations. A spec field of the same name is qualified by its message.
HANDWRITTEN = {"response", "response_in", "request_in", "time", "hdgst", "ddgst", "data",
               "payload_len", "extent", "unparsed", "map_in", "block", "rdma"}

FT_UINT = {1: "FT_UINT8", 2: "FT_UINT16", 4: "FT_UINT32", 8: "FT_UINT64"}
KIND = {"uint": "PRB_WS_UINT", "enum": "PRB_WS_ENUM", "flags": "PRB_WS_FLAGS",
        "reserved": "PRB_WS_RESERVED", "bytes": "PRB_WS_BYTES"}
DIRECTION = {"request": "PRB_WS_REQUEST", "response": "PRB_WS_RESPONSE",
             "either": "PRB_WS_EITHER"}
PAYLOAD = {"none": "PRB_WS_PAYLOAD_NONE", "data": "PRB_WS_PAYLOAD_DATA",
           "extents": "PRB_WS_PAYLOAD_EXTENTS"}


@dataclass
class Hf:
    """One registered header field."""
    filter: str           # prb.addr
    label: str
    ftype: str
    base: str
    vals: str             # C expression or NULL
    mask: int
    blurb: str
    key: tuple = ()
    bits: list["Hf"] = dc_field(default_factory=list)

    @property
    def ident(self) -> str:
        return "PRB_HF_" + self.filter[len("prb."):].replace(".", "_").upper()

    @property
    def bits_array(self) -> str:
        return "prb_bits_" + self.filter[len("prb."):].replace(".", "_")


def c_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def c_uint(v: int) -> str:
    return f"{v:#x}ULL" if v > 0xFFFFFFFF else f"{v:#x}U"


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def is_opcode_byte(f: Field, owner: str) -> bool:
    """The header's opcode: a byte with the response bit, shown with prb_vals_opcode_byte;
    an unknown one is reported by the dissector, not as an enum violation."""
    return owner == "hdr" and f.enum is not None and f.enum.name == "opcode"


def kind(f: Field, owner: str = "") -> str:
    if is_opcode_byte(f, owner):
        return "uint"
    if f.reserved:
        return "reserved"
    if f.is_bytes:
        return "bytes"
    if f.enum:
        return "enum"
    if f.flags:
        return "flags"
    return "uint"


def vals_name(e: Enum) -> str:
    return f"prb_vals_{e.name}"


class Fields:
    """Assigns one hf per distinct (name, type, enum, flags); reserved fields share one."""

    def __init__(self):
        self.hfs: list[Hf] = []
        self.by_key: dict[tuple, Hf] = {}
        self.by_filter: dict[str, Hf] = {}

    def add(self, hf: Hf) -> Hf:
        if hf.filter in self.by_filter:
            raise ValueError(f"duplicate filter name {hf.filter}")
        self.by_filter[hf.filter] = hf
        self.hfs.append(hf)
        return hf

    def of(self, f: Field, owner: str) -> Hf:
        k = kind(f, owner)
        if k == "reserved":
            key = ("reserved",)
        else:
            key = (f.name, f.type, f.enum.name if f.enum else None,
                   f.flags.name if f.flags else None)
        if key in self.by_key:
            return self.by_key[key]
        name = "reserved" if k == "reserved" else f.name
        filt = f"prb.{name}"
        if filt in self.by_filter or name in HANDWRITTEN:  # taken, or another type or enum
            filt = f"prb.{owner}.{name}"
        if k in ("reserved", "bytes"):
            ftype, base, vals = "FT_BYTES", "BASE_NONE", "NULL"
        else:
            ftype = FT_UINT[f.size]
            vals = f"VALS({vals_name(f.enum)})" if f.enum else "NULL"
            if is_opcode_byte(f, owner):
                vals = "VALS(prb_vals_opcode_byte)"
            hexed = f.name in HEX_FIELDS or f.flags is not None or f.align is not None
            base = "BASE_HEX" if hexed else "BASE_DEC"
        blurb = "Must be zero." if k == "reserved" else f.doc
        hf = self.add(Hf(filt, label(name), ftype, base, vals, 0, blurb, key))
        self.by_key[key] = hf
        if f.flags:
            for v in f.flags.values:
                hf.bits.append(self.add(Hf(f"{filt}.{v.name.lower()}", v.name, "FT_BOOLEAN",
                                           str(8 * f.size), "TFS(&tfs_set_notset)", v.value,
                                           v.doc)))
        return hf


def layouts(spec: Spec) -> list[tuple[str, str, Struct | Message]]:
    """(C name, owner name, layout) of the two structs and every message."""
    out = [("hdr", "hdr", spec.hdr), ("extent", "extent", spec.struct("extent"))]
    out += [(m.name, m.name, m) for m in spec.messages]
    return out


def field_entry(f: Field, hf: Hf, owner: str) -> str:
    checks = []
    for key, flag in (("min", "MIN"), ("max", "MAX"), ("align", "ALIGN"),
                      ("equals", "EQUALS")):
        if getattr(f, key) is not None:
            checks.append(f"PRB_WS_CHECK_{flag}")
    if f.payload_length:
        checks.append("PRB_WS_CHECK_PAYLOAD_LENGTH")
    bits = hf.bits_array if hf.bits else "NULL"
    vals = vals_name(f.enum) if f.enum and kind(f, owner) == "enum" else "NULL"
    # valid_mask: the bits the dissector does not report as reserved; a field whose unknown
    # bits the spec ignores (unknown_bits = "ignore") has none reserved.
    mask = f.accepted_mask if f.flags else 0
    return (f"\t{{ {c_str(f.name)}, &prb_hf[{hf.ident}], {bits}, {vals}, {c_uint(mask)},\n"
            f"\t  {c_uint(f.min or 0)}, {c_uint(f.max or 0)}, {c_uint(f.align or 0)}, "
            f"{c_uint(f.equals or 0)},\n"
            f"\t  {f.offset}, {f.size}, {KIND[kind(f, owner)]}, "
            f"{' | '.join(checks) if checks else '0'} }},\n")


def generate(spec: Spec) -> str:
    fields = Fields()
    owned: list[tuple[str, Struct | Message, list[tuple[Field, Hf]]]] = []
    for cname, owner, lay in layouts(spec):
        owned.append((cname, lay, [(f, fields.of(f, owner)) for f in lay.fields]))
    response_bit = spec.constant("opcode_response")

    h: list[str] = []
    w = h.append
    w("#ifndef PRB_WS_FIELDS_H\n#define PRB_WS_FIELDS_H\n\n")
    w("/* Needs <epan/packet.h> (value_string, hf_register_info) and prb_tables.h first. */\n\n")
    w("/* Constants */\n")
    for c in spec.constants:
        w(f"#define PRB_{c.name.upper()} {c.value}{'ULL' if c.value > 0xFFFFFFFF else 'U'}\n")
    w(f"#define PRB_PROTOCOL_NAME {c_str(spec.name)}\n")
    w(f"#define PRB_PROTOCOL_TITLE {c_str(spec.title)}\n")
    for e in spec.enums:
        w(f"\n/* enum {e.name} ({e.kind}) */\n")
        for v in e.values:
            w(f"#define {e.c_name(v)} {c_uint(v.value)}\n")
        if e.is_flags:
            w(f"#define PRB_{e.prefix}_ALL {c_uint(e.mask)}\n")

    w("\n/* Layouts: PRB_WS_<LAYOUT>_SIZE, and PRB_WS_<LAYOUT>_<FIELD>: the field's offset\n * (from the start of the PDU, or of the struct) */\n")
    for cname, lay, flist in owned:
        w(f"#define PRB_WS_{cname.upper()}_SIZE {lay.size}\n")
        for f, _ in flist:
            w(f"#define PRB_WS_{cname.upper()}_{f.name.upper()} {f.offset}\n")

    w("\n/* Messages, in spec order: index of prb_ws_msgs[] */\nenum prb_ws_msg_id {\n")
    for m in spec.messages:
        if m.name == "count":
            raise ValueError("message name 'count' collides with PRB_WS_MSG_COUNT")
        w(f"\tPRB_WS_MSG_{m.name.upper()},\n")
    w("\tPRB_WS_MSG_COUNT\n};\n")

    w("\n/* Header field ids: index of prb_hf[] and prb_hf_register[] */\nenum prb_hf_id {\n")
    for hf in fields.hfs:
        w(f"\t{hf.ident}, /* {hf.filter} */\n")
    w("\tPRB_WS_HF_COUNT\n};\n\n")

    w("extern int prb_hf[PRB_WS_HF_COUNT];\n")
    w("extern hf_register_info prb_hf_register[PRB_WS_HF_COUNT];\n")
    for e in spec.enums:
        w(f"extern const value_string {vals_name(e)}[];\n")
    w("/* The opcode byte: requests, responses (with the response bit) and TERM */\n")
    w("extern const value_string prb_vals_opcode_byte[];\n")
    w("extern const struct prb_ws_msg prb_ws_hdr;\n")
    w("extern const struct prb_ws_msg prb_ws_extent;\n")
    w("extern const struct prb_ws_msg prb_ws_msgs[PRB_WS_MSG_COUNT];\n")

    w("\n#ifdef PRB_WS_FIELDS_DEFINE\n\n")
    for e in spec.enums:
        w(f"const value_string {vals_name(e)}[] = {{\n")
        for v in sorted(e.values, key=lambda v: v.value):
            w(f"\t{{ {c_uint(v.value)}, {c_str(v.name)} }},\n")
        w("\t{ 0, NULL }\n};\n\n")
    names: dict[int, str] = {}
    for m in spec.messages:
        op = m.opcode.name
        if m.direction == "either":
            names[m.opcode_byte] = op
            names[m.opcode_byte | response_bit] = op
        else:
            names[m.opcode_byte] = f"{op} {m.direction}"
    w("const value_string prb_vals_opcode_byte[] = {\n")
    for byte in sorted(names):
        w(f"\t{{ {byte:#04x}, {c_str(names[byte])} }},\n")
    w("\t{ 0, NULL }\n};\n\n")

    w("int prb_hf[PRB_WS_HF_COUNT] = {\n")
    for hf in fields.hfs:
        w(f"\t[{hf.ident}] = -1,\n")
    w("};\n\n")
    for hf in fields.hfs:
        if hf.bits:
            w(f"static int *const {hf.bits_array}[] = {{\n")
            for b in hf.bits:
                w(f"\t&prb_hf[{b.ident}],\n")
            w("\tNULL\n};\n\n")

    w("hf_register_info prb_hf_register[PRB_WS_HF_COUNT] = {\n")
    for hf in fields.hfs:
        w(f"\t{{ &prb_hf[{hf.ident}],\n\t  {{ {c_str(hf.label)}, {c_str(hf.filter)}, "
          f"{hf.ftype}, {hf.base}, {hf.vals}, {c_uint(hf.mask)},\n"
          f"\t    {c_str(hf.blurb)}, HFILL }} }},\n")
    w("};\n\n")

    for cname, lay, flist in owned:
        if flist:
            w(f"static const struct prb_ws_field prb_ws_fields_{cname}[] = {{\n")
            for f, hf in flist:
                w(field_entry(f, hf, cname))
            w("};\n\n")

    def msg_entry(cname: str, lay, flist, opcode: int, direction: str, payload: str) -> str:
        fl = f"prb_ws_fields_{cname}" if flist else "NULL"
        return (f"{{ {c_str(cname)}, {c_str(lay.doc)},\n\t  {opcode:#04x}, {direction}, "
                f"{payload}, {lay.size}, {fl}, {len(flist)}U }}")

    for cname, lay, flist in owned[:2]:
        w(f"const struct prb_ws_msg prb_ws_{cname} = "
          f"{msg_entry(cname, lay, flist, 0, 'PRB_WS_EITHER', 'PRB_WS_PAYLOAD_NONE')};\n\n")
    w("const struct prb_ws_msg prb_ws_msgs[PRB_WS_MSG_COUNT] = {\n")
    for cname, lay, flist in owned[2:]:
        w(f"\t[PRB_WS_MSG_{cname.upper()}] = "
          + msg_entry(cname, lay, flist, lay.opcode.value, DIRECTION[lay.direction],
                      PAYLOAD[lay.payload]) + ",\n")
    w("};\n\n#endif /* PRB_WS_FIELDS_DEFINE */\n#endif /* PRB_WS_FIELDS_H */\n")
    return "".join(h)
