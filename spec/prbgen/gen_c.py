"""The C codec (libprbwire): prb/wire.h (here) and wire.c (c_source), as spec/CODEC.md
describes them."""

from __future__ import annotations

from c_source import Source
from c_spelling import align_to, comment, documented, lit, macro, member_decl
from model import Field, Spec


def generate(spec: Spec) -> dict[str, str]:
    """{relative path: body} of the codec's files (the CLI adds the banner)."""
    return {"prb/wire.h": Header(spec).text(), "wire.c": Source(spec).text()}


# ---------------------------------------------------------------- prb/wire.h


class Header:
    def __init__(self, spec: Spec):
        self.spec = spec

    def text(self) -> str:
        out = [
            "/* prb/wire.h: libprbwire, the prb wire codec. The API is described in spec/CODEC.md. */",
            "#ifndef PRB_WIRE_H",
            "#define PRB_WIRE_H",
            "",
            "#include <stdbool.h>",
            "#include <stddef.h>",
            "#include <stdint.h>",
            "",
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            "",
        ]
        out += self.constants() + self.enums() + self.structs() + self.messages()
        out += self.dispatch() + self.descriptors() + self.functions()
        out += [
            "#ifdef __cplusplus",
            "}",
            "#endif",
            "",
            "/* Hand-written helpers: CRC32C, PDU lengths, URLs, error responses. */",
            "#include <prb/wire_helpers.h>",
            "",
            "#endif /* PRB_WIRE_H */",
        ]
        return "\n".join(out) + "\n"

    def constants(self) -> list[str]:
        out = ["/* ---------------------------------------------------------------- constants */", ""]
        for c in self.spec.constants:
            out += comment(c.doc)
            out.append(f"#define {macro(c.name)} {lit(c.value, c.literal)}")
        out.append("")
        for s in self.spec.structs:
            if not any(c.name == f"{s.name}_size" for c in self.spec.constants):
                out += comment(f"Size of struct {s.name} on the wire.")
                out.append(f"#define {macro(s.name + '_size')} {lit(s.size)}")
        for m in self.spec.messages:
            out.append(f"#define {macro(m.name + '_size')} {lit(m.size)}")
        out.append("")
        out += comment("Byte offset and size of each field in its PDU (or struct), for code that "
                       "must read or patch a field before (or without) the whole fixed part "
                       "being decoded, and for a TERM's error_offset.")
        for owner in [*self.spec.structs, *self.spec.messages]:
            for f in owner.fields:
                out.append(f"#define {macro(owner.name + '_' + f.name + '_offset')} {lit(f.offset)}")
                out.append(f"#define {macro(owner.name + '_' + f.name + '_size')} {lit(f.size)}")
        return out + [""]

    def enums(self) -> list[str]:
        out = ["/* ---------------------------------------------------------------- enums */", ""]
        for e in self.spec.enums:
            out += comment(e.doc)
            out.append(f"enum prb_{e.name} {{")
            for v in e.values:
                out += documented(f"{e.c_name(v)} = {v.literal},", v.doc)
            out += ["};"]
            if e.is_flags:
                out += comment(f"Every defined bit of {e.name}; the others are reserved.")
                out.append(f"#define {macro(e.prefix + '_ALL')} {lit(e.mask, hex(e.mask))}")
            out.append("")
        return out

    def structs(self) -> list[str]:
        out = ["/* ---------------------------------------------------------------- structs */", ""]
        for s in self.spec.structs:
            out += comment(f"{s.doc} Reserved fields are checked and not kept.")
            out.append(f"struct prb_{s.name} {{")
            out += self.members(s.fields)
            out += ["};", ""]
        return out

    @staticmethod
    def members(fields: list[Field]) -> list[str]:
        out = []
        for f in fields:
            if not f.reserved:
                out += documented(member_decl(f), f.doc)
        return out

    def messages(self) -> list[str]:
        out = ["/* ---------------------------------------------------------------- messages */", ""]
        for m in self.spec.messages:
            out += comment(f"{m.name} ({m.direction}, opcode {m.opcode.name}): {m.doc}")
            out.append(f"struct prb_{m.name} {{")
            out.append("\tstruct prb_hdr hdr;")
            out += self.members(m.fields)
            if m.payload != "none":
                unit = "bytes" if m.payload == "data" else "bytes of extent records"
                out.append(f"\tuint32_t payload_len; /**< Payload {unit} after the fixed part. */")
            out += ["};", ""]
        return out

    def dispatch(self) -> list[str]:
        out = ["/* ---------------------------------------------------------------- dispatch */", ""]
        out += comment("One identifier per message, in spec order.")
        out.append("enum prb_msg_id {")
        out += [f"\t{macro('msg_' + m.name)}," for m in self.spec.messages]
        out += ["\tPRB_MSG_COUNT", "};", ""]
        out += comment("Any message; hdr is valid in every member.")
        out.append("union prb_msg {")
        out.append("\tstruct prb_hdr hdr;")
        out += [f"\tstruct prb_{m.name} {m.name};" for m in self.spec.messages]
        return out + ["};", ""]

    def descriptors(self) -> list[str]:
        return [
            "/* ---------------------------------------------------------------- descriptors */",
            "",
            "/** How a field is checked. */",
            "enum prb_field_kind {",
            "\tPRB_FIELD_UINT,     /**< a number, maybe with min/max/align/equals */",
            "\tPRB_FIELD_ENUM,     /**< a member of an enum (value_name != NULL for members) */",
            "\tPRB_FIELD_FLAGS,    /**< bits of an enum; the others reserved or ignored */",
            "\tPRB_FIELD_RESERVED, /**< must be zero */",
            "\tPRB_FIELD_BYTES,    /**< opaque bytes, any value */",
            "};",
            "",
            "/** Checks of a PRB_FIELD_UINT field (bits of prb_field_desc.checks). */",
            "enum prb_field_check {",
            "\tPRB_CHECK_MIN = 1 << 0,",
            "\tPRB_CHECK_MAX = 1 << 1,",
            "\tPRB_CHECK_ALIGN = 1 << 2,",
            "\tPRB_CHECK_EQUALS = 1 << 3,",
            "\tPRB_CHECK_PAYLOAD_LENGTH = 1 << 4, /**< holds the payload length (bytes or records) */",
            "};",
            "",
            "/** Who sends a message. */",
            "enum prb_direction { PRB_DIR_REQUEST, PRB_DIR_RESPONSE, PRB_DIR_EITHER };",
            "",
            "/** What follows a message's fixed part. */",
            "enum prb_payload_kind { PRB_PAYLOAD_NONE, PRB_PAYLOAD_DATA, PRB_PAYLOAD_EXTENTS };",
            "",
            "/** One field of a struct or message body, as the spec defines it. */",
            "struct prb_field_desc {",
            "\tconst char *name;            /**< spec name, e.g. \"blocks\" */",
            "\tuint16_t offset;             /**< from the start of the PDU (or struct) */",
            "\tuint16_t size;               /**< bytes: 1, 2, 4, 8 or 16 */",
            "\tuint16_t c_offset;           /**< offsetof the member in the C struct (not RESERVED) */",
            "\tenum prb_field_kind kind;",
            "\tunsigned checks;             /**< PRB_CHECK_* bits */",
            "\tuint64_t mask;               /**< FLAGS: the bits a decoder accepts */",
            "\tuint64_t min, max;           /**< UINT: bounds, when checks has them */",
            "\tuint64_t align;              /**< UINT: the value is a multiple of it */",
            "\tuint64_t equals;             /**< UINT: the only value allowed */",
            "\tconst char *(*value_name)(unsigned v); /**< ENUM: NULL for non-members */",
            "\tuint64_t defined_mask;       /**< FLAGS: the bits the spec defines */",
            "\t/** Bits that must be zero (EINVAL): every bit of a RESERVED field, the undefined",
            "\t *  bits of a FLAGS field unless they are ignored; 0 for other kinds. */",
            "\tuint64_t reserved_mask;",
            "\t/** FLAGS: undefined bits are accepted and kept as received (spec unknown_bits =",
            "\t *  \"ignore\"): mask is every bit, reserved_mask is 0. */",
            "\tbool unknown_bits_ignored;",
            "};",
            "",
            "/** A struct (hdr, extent). */",
            "struct prb_struct_desc {",
            "\tconst char *name;",
            "\tuint16_t size;",
            "\tuint16_t field_count;",
            "\tconst struct prb_field_desc *fields;",
            "};",
            "",
            "/** A message: its header values and its body fields (reserved ones included). */",
            "struct prb_msg_desc {",
            "\tconst char *name;            /**< spec name, e.g. \"alloc_req\" */",
            "\tuint8_t opcode;              /**< the opcode byte, response bit included */",
            "\tenum prb_direction direction;",
            "\tuint16_t size;               /**< fixed part, header included */",
            "\tenum prb_payload_kind payload;",
            "\tuint32_t payload_max;        /**< largest payload (bytes) */",
            "\tuint16_t c_payload_len;      /**< offsetof payload_len in the C struct (payload) */",
            "\tuint16_t field_count;",
            "\tconst struct prb_field_desc *fields;",
            "};",
            "",
            "extern const struct prb_msg_desc prb_msg_descs[PRB_MSG_COUNT];",
        ] + [f"extern const struct prb_struct_desc prb_{s.name}_desc;" for s in self.spec.structs] + [""]

    def functions(self) -> list[str]:
        out = ["/* ---------------------------------------------------------------- functions */", ""]
        out += [
            "/** Where and why a decoder refused a PDU. */",
            "struct prb_wire_error {",
            "\tuint32_t offset;   /**< byte offset in the PDU of the field at fault */",
            "\tconst char *field; /**< its spec name, e.g. \"alloc_req.blocks\" */",
            "\tconst char *reason; /**< short English text */",
            "};",
            "",
        ]
        for e in self.spec.enums:
            what = "a single bit's name" if e.is_flags else "the spec name"
            out += [
                f"/**",
                f" * Name of a {e.name} value.",
                f" * \\param v the value",
                f" * \\return {what}, or NULL when v is not a member",
                f" */",
                f"const char *prb_{e.name}_name(unsigned v);",
                "",
            ]
        out += [
            "/**",
            " * Map a response status to an errno.",
            " * \\return 0 for OK, -EEXIST for PRB_ST_EEXIST and so on, -EPROTO for a non-member",
            " */",
            "int prb_status_to_errno(uint16_t status);",
            "",
            "/**",
            " * Map a negative errno to a response status (the inverse of prb_status_to_errno).",
            " * \\return the status; PRB_ST_EIO for an errno the spec has no status for",
            " */",
            "uint16_t prb_status_from_errno(int neg_errno);",
            "",
        ]
        for s in self.spec.structs:
            out += self.codec_prototypes(s.name, s.size, raw=True)
        for m in self.spec.messages:
            out += self.codec_prototypes(m.name, m.size, raw=False)
        out += [
            "/**",
            " * Message identifier of an opcode byte.",
            " * \\param opcode the header's opcode byte, response bit included",
            " * \\return a prb_msg_id, or -EOPNOTSUPP when no message has that byte",
            " */",
            "int prb_msg_id_of(uint8_t opcode);",
            "",
            "/**",
            " * Decode any message: the header picks the decoder.",
            " * \\param id set to the message's identifier when the header is understood",
            " * \\return 0 or a negative errno as the message's decoder",
            " */",
            "int prb_msg_decode(const void *buf, size_t len, union prb_msg *m, enum prb_msg_id *id,",
            "\t\t   struct prb_wire_error *err);",
            "",
            "/**",
            " * Decode bytes as message id (whatever their opcode says: -ENOMSG if another's).",
            " * \\return 0 or a negative errno as the message's decoder; -EINVAL for an unknown id",
            " */",
            "int prb_msg_decode_as(enum prb_msg_id id, const void *buf, size_t len, union prb_msg *m,",
            "\t\t      struct prb_wire_error *err);",
            "",
            "/**",
            " * Encode any message with its own encoder.",
            " * \\return the bytes written, -EMSGSIZE, or -EINVAL for an unknown id",
            " */",
            "int prb_msg_encode(enum prb_msg_id id, const union prb_msg *m, void *buf, size_t len);",
            "",
        ]
        return out

    @staticmethod
    def codec_prototypes(name: str, size: int, raw: bool) -> list[str]:
        if raw:
            enc = [f" * Write struct {name} ({size} bytes) little-endian, every value as given."]
        else:
            enc = [f" * Write the fixed part of {name} ({size} bytes): magic, opcode, hlen and plen",
                   " * are set here, the rest as given."]
        return [
            "/**",
            *enc,
            " * \\param buf, len where to write",
            " * \\return the bytes written, or -EMSGSIZE when len is too small (nothing written)",
            " */",
            f"int prb_{name}_encode(const struct prb_{name} *m, void *buf, size_t len);",
            "",
            "/**",
            f" * Decode and check {name}.",
            " * \\param buf, len the bytes, from the first byte of the " + ("struct" if raw else "PDU"),
            " * \\param err where to say which field failed, or NULL",
            " * \\return 0 or a negative errno (spec/CODEC.md lists one per kind of failure)",
            " */",
            f"int prb_{name}_decode(const void *buf, size_t len, struct prb_{name} *m,",
            align_to(f"int prb_{name}_decode(") + "struct prb_wire_error *err);",
            "",
        ]
