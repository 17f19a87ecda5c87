"""wire.c of the C codec: codecs, name tables, descriptors (see gen_c)."""

from __future__ import annotations

from c_spelling import (C_TYPES, DIRECTION_C, PAYLOAD_C, REQUIREMENTS, align_to, bound,
                        cited_if, fail_stmt, field_checks, field_tests, getter, lit, macro,
                        pack, with_comment)
from model import Field, Message, Spec, Struct


class Source:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.hdr = spec.hdr
        flags = next(f.flags for f in self.hdr.fields if f.name == "flags")
        self.hdr_flags = flags
        self.hdgst = flags.c_name(flags.value("HDGST"))
        self.ddgst = flags.c_name(flags.value("DDGST"))
        # (flag bit, its C name, the C name of the digest size it adds)
        self.digests = [(flags.value("HDGST").value, self.hdgst, "PRB_HDGST_SIZE"),
                        (flags.value("DDGST").value, self.ddgst, "PRB_DDGST_SIZE")]

    def text(self) -> str:
        out = [
            "/* wire.c: libprbwire, the prb wire codec (spec/CODEC.md). */",
            "#include <errno.h>",
            "#include <stdbool.h>",
            "#include <string.h>",
            "",
            "#include <prb/wire.h>",
            "",
            "/* The hot helpers below are inlined into each message's codec so that every",
            " * message's constants fold; compilers without the attribute just inline less.",
            " * A message's codec is not inlined into the generic entry points, which jump to",
            " * it: one copy of each. */",
            "#if defined(__GNUC__)",
            "#define HOT_INLINE inline __attribute__((always_inline))",
            "#define COLD __attribute__((cold, noinline))",
            "#define NOINLINE __attribute__((noinline))",
            "#else",
            "#define HOT_INLINE inline",
            "#define COLD",
            "#define NOINLINE",
            "#endif",
            "",
        ]
        out += self.le_helpers() + self.static_asserts() + self.names() + self.status_map()
        out += self.descriptor_tables() + self.hdr_codec()
        for s in self.spec.structs:
            if s is not self.hdr:
                out += self.struct_codec(s)
        for m in self.spec.messages:
            out += self.message_codec(m)
        out += self.dispatch()
        return "\n".join(out).rstrip("\n") + "\n"

    # -- plumbing

    @staticmethod
    def le_helpers() -> list[str]:
        out = [
            "/*",
            " * Little-endian loads and stores. On a little-endian host a memcpy of the value is",
            " * one move; elsewhere the bytes are assembled one by one (which compilers also",
            " * merge, but not when part of a stored value is a constant).",
            " */",
            "#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \\",
            "\t__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__",
            "#define LE_HOST 1",
            "#else",
            "#define LE_HOST 0",
            "#endif",
            "",
        ]
        for bits in (16, 32, 64):
            t = f"uint{bits}_t"
            n = bits // 8
            terms = [f"({t})p[{i}] << {8 * i}" if i else f"({t})p[0]" for i in range(n)]
            body = [f"\treturn ({t})({terms[0]} |"]
            cont = align_to(f"\treturn ({t})(")
            body += [f"{cont}{term} |" for term in terms[1:-1]]
            body += [f"{cont}{terms[-1]});"]
            out += [
                f"static HOT_INLINE {t} get_u{bits}(const uint8_t *p)",
                "{",
                "#if LE_HOST",
                f"\t{t} v;",
                "",
                "\tmemcpy(&v, p, sizeof(v));",
                "\treturn v;",
                "#else",
                *body,
                "#endif",
                "}",
                "",
                f"static HOT_INLINE void put_u{bits}(uint8_t *p, {t} v)",
                "{",
                "#if LE_HOST",
                "\tmemcpy(p, &v, sizeof(v));",
                "#else",
            ]
            out += [f"\tp[{i}] = (uint8_t)(v >> {8 * i});" if i else "\tp[0] = (uint8_t)v;"
                    for i in range(n)]
            out += ["#endif", "}", ""]
        out += [
            "/* Fill err (when given) and return rc: every decoder failure goes through here, off",
            " * the hot path. */",
            "static COLD int fail(struct prb_wire_error *err, int rc, uint32_t offset, const char *field,",
            "\t\t     const char *reason)",
            "{",
            "\tif (err) {",
            "\t\terr->offset = offset;",
            "\t\terr->field = field;",
            "\t\terr->reason = reason;",
            "\t}",
            "\treturn rc;",
            "}",
            "",
        ]
        return out

    def static_asserts(self) -> list[str]:
        out = ["/* The C members are as wide as the wire fields they hold. */"]

        def pin(owner: str, fields: list[Field]):
            for f in fields:
                if not f.reserved:
                    out.extend([f"_Static_assert(sizeof(((struct prb_{owner} *)0)->{f.name}) == "
                                f"{f.size},", f"\t       \"{owner}.{f.name} width\");"])
        for s in self.spec.structs:
            pin(s.name, s.fields)
        for m in self.spec.messages:
            pin(m.name, m.fields)
        out += ["", "/* Layout facts the spec checker enforced, pinned here too. */"]
        for m in self.spec.messages:
            out.append(f"_Static_assert({macro(m.name + '_size')} % 8 == 0, "
                       f"\"{m.name}: a multiple of 8 bytes\");")
        hellos = {m.direction: m for m in self.spec.messages if m.opcode.name == "HELLO"}
        for direction, limit in (("request", "rdma_req_private_data"),
                                 ("response", "rdma_rsp_private_data")):
            if direction in hellos:
                out += [f"_Static_assert({macro(hellos[direction].name + '_size')} <= "
                        f"{macro(limit)},",
                        f"\t       \"HELLO {direction} fits rdma_cm private data\");"]
        out.append("_Static_assert(PRB_BLOCK_SIZE == 1ULL << PRB_BLOCK_SHIFT, "
                   "\"block_size is 1 << block_shift\");")
        return out + [""]

    def names(self) -> list[str]:
        out = []
        for e in self.spec.enums:
            out += [f"const char *prb_{e.name}_name(unsigned v)", "{", "\tswitch (v) {"]
            for v in e.values:
                out += [f"\tcase {e.c_name(v)}:", f"\t\treturn \"{v.name}\";"]
            out += ["\tdefault:", "\t\treturn NULL;", "\t}", "}", ""]
        return out

    def status_map(self) -> list[str]:
        status = self.spec.enum("status")
        errors = [v for v in status.values if v.name != "OK"]
        out = ["int prb_status_to_errno(uint16_t status)", "{", "\tswitch (status) {",
               f"\tcase {status.c_name(status.value('OK'))}:", "\t\treturn 0;"]
        for v in errors:
            out += [f"\tcase {status.c_name(v)}:", f"\t\treturn -{v.name};"]
        out += ["\tdefault:", "\t\treturn -EPROTO;", "\t}", "}", "",
                "uint16_t prb_status_from_errno(int neg_errno)", "{", "\tswitch (-neg_errno) {",
                "\tcase 0:", f"\t\treturn {status.c_name(status.value('OK'))};"]
        for v in errors:
            out += [f"\tcase {v.name}:", f"\t\treturn {status.c_name(v)};"]
            if v.name == "ENOTSUP":
                out += ["#if EOPNOTSUPP != ENOTSUP", "\tcase EOPNOTSUPP:",
                        f"\t\treturn {status.c_name(v)};", "#endif"]
        fallback = status.value("EIO")
        out += ["\tdefault:", f"\t\treturn {status.c_name(fallback) if fallback else 'PRB_ST_EIO'};",
                "\t}", "}", ""]
        return out

    # -- descriptors

    @staticmethod
    def field_desc(owner: str, f: Field) -> list[str]:
        if f.reserved:
            kind = "PRB_FIELD_RESERVED"
        elif f.enum:
            kind = "PRB_FIELD_ENUM"
        elif f.flags:
            kind = "PRB_FIELD_FLAGS"
        elif f.is_bytes:
            kind = "PRB_FIELD_BYTES"
        else:
            kind = "PRB_FIELD_UINT"
        parts = [f'.name = "{f.name}"', f".offset = {f.offset}", f".size = {f.size}",
                 f".kind = {kind}"]
        if not f.reserved:
            parts.append(f".c_offset = offsetof(struct prb_{owner}, {f.name})")
        checks = []
        for key, flag in (("min", "MIN"), ("max", "MAX"), ("align", "ALIGN"),
                          ("equals", "EQUALS")):
            value = getattr(f, key)
            if value is not None:
                checks.append(f"PRB_CHECK_{flag}")
                parts.append(f".{key} = {bound(value, getattr(f, key + '_ref'))}")
        if f.payload_length:
            checks.append("PRB_CHECK_PAYLOAD_LENGTH")
        if checks:
            parts.append(".checks = " + " | ".join(checks))
        if f.flags:
            defined = macro(f.flags.prefix + '_ALL')
            parts.append(f".mask = {lit(f.accepted_mask, hex(f.accepted_mask))}"
                         if f.ignores_unknown_bits else f".mask = {defined}")
            parts.append(f".defined_mask = {defined}")
        if f.reserved_mask:
            parts.append(f".reserved_mask = {lit(f.reserved_mask, hex(f.reserved_mask))}")
        if f.ignores_unknown_bits:
            parts.append(".unknown_bits_ignored = true")
        if f.enum:
            parts.append(f".value_name = prb_{f.enum.name}_name")
        return pack("\t{", parts, "},")

    def field_table(self, owner: str, fields: list[Field]) -> list[str]:
        if not fields:
            return []
        out = [f"static const struct prb_field_desc {owner}_fields[] = {{"]
        for f in fields:
            out += self.field_desc(owner, f)
        return out + ["};", ""]

    def descriptor_tables(self) -> list[str]:
        out = []
        for s in self.spec.structs:
            out += self.field_table(s.name, s.fields)
            out += [f"const struct prb_struct_desc prb_{s.name}_desc = {{",
                    f'\t.name = "{s.name}",', f"\t.size = {s.size},",
                    f"\t.field_count = {len(s.fields)},", f"\t.fields = {s.name}_fields,",
                    "};", ""]
        for m in self.spec.messages:
            out += self.field_table(m.name, m.fields)
        out.append("const struct prb_msg_desc prb_msg_descs[PRB_MSG_COUNT] = {")
        for m in self.spec.messages:
            out += [f"\t[{macro('msg_' + m.name)}] = {{",
                    f'\t\t.name = "{m.name}",',
                    f"\t\t.opcode = {self.opcode_byte(m)},",
                    f"\t\t.direction = {DIRECTION_C[m.direction]},",
                    f"\t\t.size = {macro(m.name + '_size')},",
                    f"\t\t.payload = {PAYLOAD_C[m.payload]},"]
            payload_max = self.payload_max(m)
            if payload_max:
                out += [f"\t\t.payload_max = {payload_max},",
                        f"\t\t.c_payload_len = offsetof(struct prb_{m.name}, payload_len),"]
            if m.fields:
                out += [f"\t\t.field_count = {len(m.fields)},", f"\t\t.fields = {m.name}_fields,"]
            out.append("\t},")
        return out + ["};", ""]

    def payload_max(self, m: Message) -> str | None:
        if m.payload == "none":
            return None
        if m.payload_max is not None:
            return bound(m.payload_max, m.payload_max_ref)
        pf = m.payload_field
        limit = bound(pf.max, pf.max_ref)
        if m.payload == "extents":
            return f"{limit} * {macro('extent_size')}"
        return limit

    def payload_unit(self, m: Message) -> int:
        """Bytes of payload per unit of the payload_length field."""
        return self.spec.struct("extent").size if m.payload == "extents" else 1

    def payload_max_value(self, m: Message) -> int:
        if m.payload_max is not None:
            return m.payload_max
        return m.payload_field.max * self.payload_unit(m)

    @staticmethod
    def payload_never_empty(m: Message) -> bool:
        """The payload_length field's min makes an empty payload invalid anyway."""
        pf = m.payload_field
        return pf is not None and (pf.min or 0) >= 1

    def digest_table(self) -> list[str]:
        """Bytes of digests each value of hdr.flags adds to a PDU (flags without a reserved
        bit index it)."""
        out = ["/* Bytes of digests a PDU carries, by its hdr.flags (reserved bits masked). */",
               "static const uint8_t digest_bytes[PRB_HDR_ALL + 1] = {"]
        for i in range(1, self.hdr_flags.mask + 1):
            present = [(name, size) for bit, name, size in self.digests if bit & i]
            if i & ~self.hdr_flags.mask or not present:
                continue
            names = " | ".join(name for name, _ in present)
            out.append(f"\t[{names}] = {' + '.join(size for _, size in present)},")
        return out + ["};", ""]

    def opcode_byte(self, m: Message) -> str:
        op = self.spec.opcodes.c_name(m.opcode)
        return f"{op} | PRB_OPCODE_RESPONSE" if m.is_response else op

    # -- the header

    def hdr_codec(self) -> list[str]:
        h = self.hdr
        # Read as little-endian 64-bit words and split: fields are naturally aligned, so
        # none straddles a word, and compilers merge the stores.
        words = h.size // 8
        if words != 2:
            raise ValueError("the decoders' fast path reads the header as two 64-bit words")
        split = []
        for f in h.fields:
            shift = (f.offset % 8) * 8
            split.append(f"\th->{f.name} = ({C_TYPES[f.type]})(w{f.offset // 8} >> {shift});"
                         if shift else f"\th->{f.name} = ({C_TYPES[f.type]})w{f.offset // 8};")
        builders = []
        for i in range(words):
            fields = [f for f in h.fields if f.offset // 8 == i]
            params = ", ".join(f"uint64_t {f.name}" for f in fields)
            terms = [f"{f.name} << {(f.offset % 8) * 8}" if f.offset % 8 else f.name
                     for f in fields]
            builders += [f"static HOT_INLINE uint64_t hdr_word{i}({params})", "{",
                         f"\treturn {' | '.join(terms)};", "}", ""]
        frame = []
        for name in ("magic", "flags"):
            f = next(x for x in h.fields if x.name == name)
            frame += field_checks("hdr", f, f"h->{name}", equals_errno="EPROTO",
                                  cites={"equals": "magic", "flags": "hdr_flags"})
        status = next(f for f in h.fields if f.name == "status")
        status_checks = field_checks("hdr", status, "h->status", cites={"enum": None})
        off = {f.name: f.offset for f in h.fields}
        out = [
            "/* The common header's fields from its two little-endian 64-bit words. */",
            "static HOT_INLINE void hdr_from_words(struct prb_hdr *h, uint64_t w0, uint64_t w1)",
            "{",
            *split,
            "}",
            "",
            "/* The common header's fields as they are on the wire. */",
            "static HOT_INLINE void get_hdr(const uint8_t *p, struct prb_hdr *h)",
            "{",
            "\thdr_from_words(h, get_u64(p), get_u64(p + 8));",
            "}",
            "",
            "/* The header's 64-bit words from field values (wider than the fields: callers pass",
            " * values that fit, or all-ones masks), for the decoders' fast path to compare a",
            " * whole word at once. */",
            *builders,
            "/* What every PDU's header must pass before its opcode means anything: checks 1 to 4",
            " * of PRB-PDU-12 (PRB-HDR-1, PRB-HDR-4, PRB-HDR-6, PRB-HDR-5). */",
            "static HOT_INLINE int check_hdr_frame(const struct prb_hdr *h, struct prb_wire_error *err)",
            "{",
            *frame,
            cited_if("h->hlen < PRB_HDR_SIZE || h->hlen % 8 != 0", "hlen"),
            *fail_stmt("\t\t", "EBADMSG", f'{off["hlen"]}, "hdr.hlen"', "below the header size or not a multiple of 8"),
            cited_if("h->plen < prb_pdu_plen(h->hlen, h->flags, 0)", "plen"),
            *fail_stmt("\t\t", "EBADMSG", f'{off["plen"]}, "hdr.plen"', "shorter than hlen and the digests"),
            "\treturn 0;",
            "}",
            "",
            "/* The status field of any header. */",
            "static HOT_INLINE int check_hdr_status(const struct prb_hdr *h, struct prb_wire_error *err)",
            "{",
            *status_checks,
            "\treturn 0;",
            "}",
            "",
            "int prb_hdr_decode(const void *buf, size_t len, struct prb_hdr *h,",
            "\t\t   struct prb_wire_error *err)",
            "{",
            "\tint rc;",
            "",
            "\tif (len < PRB_HDR_SIZE)",
            *fail_stmt("\t\t", "EMSGSIZE", f'(uint32_t)len, "hdr"', "shorter than the header"),
            "\tget_hdr(buf, h);",
            "\trc = check_hdr_frame(h, err);",
            "\tif (rc < 0)",
            "\t\treturn rc;",
            "\tif (prb_msg_id_of(h->opcode) < 0)",
            *fail_stmt("\t\t", "EOPNOTSUPP", f'{off["opcode"]}, "hdr.opcode"', "unknown opcode"),
            "\treturn check_hdr_status(h, err);",
            "}",
            "",
            "int prb_hdr_encode(const struct prb_hdr *m, void *buf, size_t len)",
            "{",
            "\tuint8_t *p = buf;",
            "",
            "\tif (len < PRB_HDR_SIZE)",
            "\t\treturn -EMSGSIZE;",
            *[self.putter(f, f"m->{f.name}") for f in h.fields],
            "\treturn (int)PRB_HDR_SIZE;",
            "}",
            "",
        ]
        return out + self.msg_hdr_codec()

    @staticmethod
    def putter(f: Field, value: str) -> str:
        if f.type == "u8":
            return f"\tp[{f.offset}] = {value};"
        return f"\tput_{f.type}(p + {f.offset}, {value});"

    def msg_hdr_codec(self) -> list[str]:
        set_by_encoder = {
            "magic": "PRB_MAGIC",
            "opcode": "s->opcode",
            "plen": "prb_pdu_plen(s->size, h->flags, payload_len)",
            "hlen": "s->size",
        }
        # Two whole-word stores: compilers do not merge the field stores as well.
        puts = []
        for i in range(self.hdr.size // 8):
            args = [set_by_encoder.get(f.name, f"h->{f.name}") for f in self.hdr.fields
                    if f.offset // 8 == i]
            puts += pack(f"\tput_u64(p + {8 * i}, hdr_word{i}(", args, "));")
        off = {f.name: f.offset for f in self.hdr.fields}
        return [
            "/* What the codec needs of one message, as constants the compiler folds into it. */",
            "struct msg_shape {",
            "\tconst char *name;",
            "\tuint8_t opcode;",
            "\tuint16_t size;",
            "\tenum prb_direction direction;",
            "\tenum prb_payload_kind payload;",
            "\tuint32_t payload_max;",
            "};",
            "",
            *self.digest_table(),
            "uint32_t prb_pdu_plen(uint16_t hlen, uint8_t flags, uint32_t payload_len)",
            "{",
            "\treturn hlen + payload_len + digest_bytes[flags & PRB_HDR_ALL];",
            "}",
            "",
            "/* The header of a message's PDU: magic, opcode, hlen and plen from the message. */",
            "static HOT_INLINE void put_msg_hdr(uint8_t *p, const struct prb_hdr *h,",
            "\t\t\t       const struct msg_shape *s, uint32_t payload_len)",
            "{",
            *puts,
            "}",
            "",
            "/* Returned by decode_msg_hdr for an error response: the header alone. */",
            "enum { ERROR_RESPONSE = 1 };",
            "",
            "/* An error response (status != 0) is the header alone, with no data digest. */",
            "static int check_error_response(const struct prb_hdr *h, struct prb_wire_error *err)",
            "{",
            "\tuint32_t plen = PRB_HDR_SIZE;",
            "",
            cited_if("h->hlen != PRB_HDR_SIZE", "error_response"),
            *fail_stmt("\t\t", "EBADMSG", f'{off["hlen"]}, "hdr.hlen"', "error response longer than the header"),
            f"\tif (h->flags & {self.ddgst})",
            *fail_stmt("\t\t", "EBADMSG", f'{off["flags"]}, "hdr.flags"', "data digest without payload"),
            f"\tif (h->flags & {self.hdgst})",
            "\t\tplen += PRB_HDGST_SIZE;",
            cited_if("h->plen != plen", "error_response"),
            *fail_stmt("\t\t", "EBADMSG", f'{off["plen"]}, "hdr.plen"', "error response with a payload"),
            "\treturn ERROR_RESPONSE;",
            "}",
            "",
            "/* The payload length plen announces, checked against the message's payload kind. */",
            "static int check_payload(const struct prb_hdr *h, const struct msg_shape *s,",
            "\t\t\t uint32_t *payload_len, struct prb_wire_error *err)",
            "{",
            "\tuint32_t fixed = s->size;",
            "\tuint32_t payload;",
            "",
            f"\tif (h->flags & {self.hdgst})",
            "\t\tfixed += PRB_HDGST_SIZE;",
            "\tif (s->payload == PRB_PAYLOAD_NONE) {",
            "\t\t/* No payload, so no data digest: plen is the fixed part and header digest. */",
            cited_if(f"h->flags & {self.ddgst}", "digests", "\t\t"),
            *fail_stmt("\t\t\t", "EBADMSG", f'{off["flags"]}, "hdr.flags"', "data digest without payload"),
            cited_if("h->plen != fixed", "no_payload", "\t\t"),
            *fail_stmt("\t\t\t", "EBADMSG", f'{off["plen"]}, "hdr.plen"', "not the fixed part and header digest"),
            "\t\treturn 0;",
            "\t}",
            f"\tif (h->flags & {self.ddgst})",
            "\t\tfixed += PRB_DDGST_SIZE;",
            "\tif (h->plen < fixed)",
            *fail_stmt("\t\t", "EBADMSG", f'{off["plen"]}, "hdr.plen"', "shorter than the fixed part and digests"),
            "\tpayload = h->plen - fixed;",
            cited_if(f"(h->flags & {self.ddgst}) && payload == 0", "digests"),
            *fail_stmt("\t\t", "EBADMSG", f'{off["flags"]}, "hdr.flags"', "data digest without payload"),
            "\tif (payload > s->payload_max)",
            *fail_stmt("\t\t", "E2BIG", f'{off["plen"]}, "hdr.plen"', "payload above its max"),
            "\tif (payload_len)",
            "\t\t*payload_len = payload;",
            "\treturn 0;",
            "}",
            "",
            "/*",
            " * Every check of the header of message s, in the order of PRB-PDU-12: 0 when the",
            " * body follows, ERROR_RESPONSE for a valid error response, or a negative errno.",
            " */",
            "static int check_msg_hdr(const struct prb_hdr *h, size_t len, const struct msg_shape *s,",
            "\t\t\t uint32_t *payload_len, struct prb_wire_error *err)",
            "{",
            "\tint rc = check_hdr_frame(h, err);",
            "",
            "\tif (rc < 0)",
            "\t\treturn rc;",
            "\tif (h->opcode != s->opcode) {",
            "\t\tif (prb_msg_id_of(h->opcode) < 0)",
            *fail_stmt("\t\t\t", "EOPNOTSUPP", f'{off["opcode"]}, "hdr.opcode"', "unknown opcode"),
            *fail_stmt("\t\t", "ENOMSG", f'{off["opcode"]}, "hdr.opcode"', "another message's opcode"),
            "\t}",
            "\trc = check_hdr_status(h, err);",
            "\tif (rc < 0)",
            "\t\treturn rc;",
            "\tif (h->status != 0) {",
            cited_if("s->direction != PRB_DIR_RESPONSE", "request_status", "\t\t"),
            *fail_stmt("\t\t\t", "EINVAL", f'{off["status"]}, "hdr.status"', "nonzero status in a request"),
            "\t\treturn check_error_response(h, err);",
            "\t}",
            "\tif (len < s->size)",
            *fail_stmt("\t\t", "EMSGSIZE", f'(uint32_t)len, s->name', "shorter than the fixed part"),
            cited_if("h->hlen != s->size", "hlen"),
            *fail_stmt("\t\t", "EBADMSG", f'{off["hlen"]}, "hdr.hlen"', "not the message's size"),
            "\treturn check_payload(h, s, payload_len, err);",
            "}",
            "",
            "/*",
            " * Decode and check the header of message s: 0 when the body follows, ERROR_RESPONSE",
            " * for a valid error response, or a negative errno.",
            " */",
            "static int decode_msg_hdr(const uint8_t *p, size_t len, struct prb_hdr *h,",
            "\t\t\t  const struct msg_shape *s, uint32_t *payload_len,",
            "\t\t\t  struct prb_wire_error *err)",
            "{",
            "\tif (len < PRB_HDR_SIZE)",
            *fail_stmt("\t\t", "EMSGSIZE", f'(uint32_t)len, s->name', "shorter than the header"),
            "\tget_hdr(p, h);",
            "\treturn check_msg_hdr(h, len, s, payload_len, err);",
            "}",
            "",
        ]

    # -- structs and messages

    def body_decode(self, owner: str, fields: list[Field], role: str) -> list[str]:
        out = []
        for f in fields:
            if f.reserved:
                out += field_checks(owner, f, getter(f, "p"), role=role)
            elif f.is_bytes:
                out.append(f"\tmemcpy(m->{f.name}, p + {f.offset}, sizeof(m->{f.name}));")
            else:
                out.append(f"\tm->{f.name} = {getter(f, 'p')};")
                out += field_checks(owner, f, f"m->{f.name}", role=role)
        return out

    def body_encode(self, fields: list[Field]) -> list[str]:
        out = []
        for f in fields:
            if f.reserved:
                out.append(self.putter(f, "0"))
            elif f.is_bytes:
                out.append(f"\tmemcpy(p + {f.offset}, m->{f.name}, sizeof(m->{f.name}));")
            else:
                out.append(self.putter(f, f"m->{f.name}"))
        return out

    def struct_codec(self, s: Struct) -> list[str]:
        size = macro(s.name + "_size")
        return [
            f"int prb_{s.name}_decode(const void *buf, size_t len, struct prb_{s.name} *m,",
            align_to(f"int prb_{s.name}_decode(") + "struct prb_wire_error *err)",
            "{",
            "\tconst uint8_t *p = buf;",
            "",
            f"\tif (len < {size})",
            *fail_stmt("\t\t", "EMSGSIZE", f'(uint32_t)len, "{s.name}"', "shorter than the struct"),
            *self.body_decode(s.name, s.fields, "response"),
            "\treturn 0;",
            "}",
            "",
            f"int prb_{s.name}_encode(const struct prb_{s.name} *m, void *buf, size_t len)",
            "{",
            "\tuint8_t *p = buf;",
            "",
            f"\tif (len < {size})",
            "\t\treturn -EMSGSIZE;",
            *self.body_encode(s.fields),
            f"\treturn (int){size};",
            "}",
            "",
        ]

    def message_codec(self, m: Message) -> list[str]:
        size = macro(m.name + "_size")
        desc = f"&{m.name}_shape"
        return (self.shape(m) + self.checked_decoder(m, desc) + self.fast_decoder(m)
                + self.message_encode(m, size, desc))

    def checked_decoder(self, m: Message, desc: str) -> list[str]:
        """m's decoder field by field, in the order of PRB-PDU-12: every input the fast
        path does not take (error responses, digests, broken PDUs) comes here, and a
        failure says which field is wrong."""
        payload_len = "&m->payload_len" if m.payload != "none" else "NULL"
        out = [f"/* {m.name} checked field by field: the fast path's way out, which says what is"
               " wrong. */"]
        out += pack(f"static COLD int {m.name}_decode_checked(",
                    ["const void *buf", "size_t len", f"struct prb_{m.name} *m",
                     "struct prb_wire_error *err"], ")")
        out.append("{")
        body = self.body_decode(m.name, m.fields, m.direction)
        if body:
            out.append("\tconst uint8_t *p = buf;")
        out += ["\tint rc;", ""]
        out += pack("\trc = decode_msg_hdr(", ["buf", "len", "&m->hdr", desc, payload_len, "err"],
                    ");")
        has_members = any(not f.reserved for f in m.fields) or m.payload != "none"
        if m.is_response and has_members:
            out += ["\tif (rc < 0)", "\t\treturn rc;",
                    "\tif (rc == ERROR_RESPONSE) {",
                    f"\t\t*m = (struct prb_{m.name}){{.hdr = m->hdr}};",
                    "\t\treturn 0;", "\t}"]
        elif m.is_response and not body:
            return out + ["\t/* An error response decodes like a success: the header is all there is. */",
                          "\treturn rc < 0 ? rc : 0;", "}", ""]
        elif m.is_response:
            out += ["\tif (rc != 0)", "\t\treturn rc < 0 ? rc : 0;"]
        elif body or m.payload_field is not None:
            out += ["\tif (rc < 0)", "\t\treturn rc;"]
        else:
            return out + ["\treturn rc;", "}", ""]
        pf = m.payload_field
        if pf is not None:
            # The payload length is a framing fact (PRB-PDU-3, PRB-PDU-4; check 9 of
            # PRB-PDU-12), checked before the body's own constraints.
            where = f'{pf.offset}, "{m.name}.{pf.name}"'
            cond = self.payload_mismatch(m, getter(pf, "p"), "m->payload_len")
            reason = ("differs from the extents in the payload" if m.payload == "extents"
                      else "differs from the payload length")
            cite = "extents_count" if m.payload == "extents" else "data_length"
            out += [cited_if(cond, cite)] + fail_stmt("\t\t", "EBADMSG", where, reason)
        out += body
        return out + ["\treturn 0;", "}", ""]

    @staticmethod
    def payload_mismatch(m: Message, value: str, payload_len: str) -> str:
        """C condition: the payload_length field's value disagrees with the payload."""
        if m.payload == "extents":
            return f"(uint64_t){value} * {macro('extent_size')} != {payload_len}"
        return f"{value} != {payload_len}"

    def fast_decoder(self, m: Message) -> list[str]:
        """m's public decoder: the common case (status OK, no reserved flag, every field
        valid) checked with whole-word compares of the header and one test per constraint,
        each field stored as soon as it is loaded; whatever it does not accept goes to the
        checked decoder, which accepts or refuses it exactly as the spec says and says
        why. The fast path accepts only valid PDUs and fills m as the checked decoder
        would: the tests compare the two on every vector, truncation, reserved bit and
        random damage."""
        size = macro(m.name + "_size")
        op = self.opcode_byte(m)
        out = [f"/* {m.name}: the common case checked at once, anything else by "
               f"{m.name}_decode_checked. */"]
        out += pack(f"NOINLINE int prb_{m.name}_decode(", ["const void *buf", "size_t len",
                    f"struct prb_{m.name} *m", "struct prb_wire_error *err"], ")")
        out += ["{", "\tconst uint8_t *p = buf;", "\tuint64_t w0, w1;"]
        if m.payload != "none":
            out += ["\tuint32_t payload;"]
            biggest = m.size + self.spec.constant("hdgst_size") + self.spec.constant("ddgst_size")
            if self.payload_max_value(m) >= (1 << 32) - biggest:
                raise ValueError(f"{m.name}: payload max too close to 2^32 for the fast path")
        out += [
            "",
            f"\tif (len < {size})",
            "\t\tgoto checked;",
            "\tw0 = get_u64(p);",
            "\tw1 = get_u64(p + 8);",
            "\thdr_from_words(&m->hdr, w0, w1);",
        ]
        status_hlen = self.status_hlen_test(size)
        if m.payload == "none":
            out += [
                "\t/* PRB-PDU-12: magic, opcode, no flag and plen in one compare of the first",
                "\t * word, else HDGST alone and its plen in two more (gcc tests two constants",
                "\t * of one word in whichever order it likes); status 0 and hlen in one. */",
                *pack("\tif ((w0 != hdr_word0(", ["PRB_MAGIC", op, "0", size], ") &&"),
                *self.hdgst_word_test(op, size),
                f"\t    {status_hlen})",
                "\t\tgoto checked;",
            ]
        else:
            out += [
                "\t/* PRB-PDU-12: magic, opcode, no reserved flag; status 0 and hlen. */",
                f"\tif ((w0 & hdr_word0(0xFFFF, 0xFF, (uint8_t)~PRB_HDR_ALL, 0)) !=",
                f"\t\t    hdr_word0(PRB_MAGIC, {op}, 0, 0) ||",
                f"\t    {status_hlen})",
                "\t\tgoto checked;",
                "\t/* The payload within its bounds (a plen short of the fixed part and digests",
                "\t * wraps around above them), and no data digest without one (PRB-DGST-5). */",
                *pack("\tpayload = ", [f"{self.hdr_get('plen')} - {size} - "
                                        f"digest_bytes[{self.hdr_get('flags')} & PRB_HDR_ALL];"],
                      ""),
            ]
            if self.payload_never_empty(m):
                out += [f"\tif (payload > {self.payload_max(m)})",
                        "\t\tgoto checked; /* and a payload of 0 fails the payload field's min */"]
            else:
                out += pack("\tif (", [f"payload > {self.payload_max(m)}",
                                       f"(payload == 0 && ({self.hdr_get('flags')} & "
                                       f"{self.ddgst}))"], ")",
                            sep=" ||")
                out += ["\t\tgoto checked;"]
            out += ["\tm->payload_len = payload;"]
        pf = m.payload_field
        for f in m.fields:
            if f.is_bytes:
                out.append(f"\tmemcpy(m->{f.name}, p + {f.offset}, sizeof(m->{f.name}));")
                continue
            value = getter(f, "p") if f.reserved else f"m->{f.name}"
            tests = field_tests(f, value, role=m.direction)
            if f is pf:
                # Equal to the payload, which is within payload_max: the field's own max
                # holds when payload_max is no more than it allows.
                if self.payload_max_value(m) <= pf.max * self.payload_unit(m):
                    tests = [t for t in tests if t[1] != "E2BIG"]
                cite = "extents_count" if m.payload == "extents" else "data_length"
                tests.insert(0, (self.payload_mismatch(m, value, "payload"), "EBADMSG", "",
                                 cite))
            if not f.reserved:
                out.append(f"\tm->{f.name} = {getter(f, 'p')};")
            if tests:
                conds = [t[0] for t in tests]
                lines = pack("\tif (", [f"({c})" if " " in c else c for c in conds]
                             if len(conds) > 1 else conds, ")", sep=" ||")
                cites = sorted({REQUIREMENTS[t[3]] for t in tests if t[3]})
                out += with_comment(lines, ", ".join(cites)) + ["\t\tgoto checked;"]
        return out + [
            "\treturn 0;",
            "checked:",
            f"\treturn {m.name}_decode_checked(buf, len, m, err);",
            "}",
            "",
        ]

    def hdgst_word_test(self, op: str, size: str) -> list[str]:
        """The second half of the first word's test: 'not the header-digest form' (and the
        closing of the first word's test), as two 32-bit compares from the PDU when plen
        fills the word's high half, as it does."""
        plen = next(f for f in self.hdr.fields if f.name == "plen")
        if plen.offset != 4 or plen.size != 4:
            return pack("\t     w0 != hdr_word0(",
                        ["PRB_MAGIC", op, self.hdgst, f"{size} + PRB_HDGST_SIZE"], ")) ||")
        return pack("\t     (get_u32(p) != (uint32_t)hdr_word0(",
                    ["PRB_MAGIC", op, self.hdgst, "0"], ") ||") + [
            f"\t      {self.hdr_get('plen')} != {size} + PRB_HDGST_SIZE)) ||"]

    def hdr_get(self, name: str) -> str:
        """A header field read from the PDU (one load, cheaper than from the header word)."""
        return getter(next(f for f in self.hdr.fields if f.name == name), "p")

    def status_hlen_test(self, size: str) -> str:
        """C condition: the second header word's status is not 0 or its hlen not size
        (one compare of the 32 bits after the tag, when the tag fills the word's low half
        as it does)."""
        tag = next(f for f in self.hdr.fields if f.name == "tag")
        if tag.offset % 8 == 0 and tag.size == 4:
            return f"get_u32(p + {tag.end}) != (uint32_t)(hdr_word1(0, 0, {size}) >> 32)"
        mask = ", ".join("0" if f.name == "tag" else hex(f.type_max)
                         for f in self.hdr.fields if f.offset // 8 == 1)
        return f"(w1 & hdr_word1({mask})) != hdr_word1(0, 0, {size})"

    def shape(self, m: Message) -> list[str]:
        out = [f"static const struct msg_shape {m.name}_shape = {{",
               f'\t.name = "{m.name}",',
               f"\t.opcode = {self.opcode_byte(m)},",
               f"\t.size = {macro(m.name + '_size')},",
               f"\t.direction = {DIRECTION_C[m.direction]},",
               f"\t.payload = {PAYLOAD_C[m.payload]},"]
        payload_max = self.payload_max(m)
        if payload_max:
            out.append(f"\t.payload_max = {payload_max},")
        return out + ["};", ""]

    def message_encode(self, m: Message, size: str, desc: str) -> list[str]:
        payload_len = "m->payload_len" if m.payload != "none" else "0"
        return [
            *pack(f"NOINLINE int prb_{m.name}_encode(", [f"const struct prb_{m.name} *m",
                                                       "void *buf", "size_t len"], ")"),
            "{",
            "\tuint8_t *p = buf;",
            "",
            f"\tif (len < {size})",
            "\t\treturn -EMSGSIZE;",
            f"\tput_msg_hdr(p, &m->hdr, {desc}, {payload_len});",
            *self.body_encode(m.fields),
            f"\treturn (int){size};",
            "}",
            "",
        ]

    # -- generic dispatch

    def dispatch(self) -> list[str]:
        out = ["int prb_msg_id_of(uint8_t opcode)", "{", "\tswitch (opcode) {"]
        for m in self.spec.messages:
            out += [f"\tcase {self.opcode_byte(m)}:", f"\t\treturn {macro('msg_' + m.name)};"]
        out += ["\tdefault:", "\t\treturn -EOPNOTSUPP;", "\t}", "}", ""]
        out += [
            "int prb_msg_decode(const void *buf, size_t len, union prb_msg *m, enum prb_msg_id *id,",
            "\t\t   struct prb_wire_error *err)",
            "{",
            "\tint rc = prb_hdr_decode(buf, len, &m->hdr, err);",
            "",
            "\tif (rc < 0)",
            "\t\treturn rc;",
            "\t*id = (enum prb_msg_id)prb_msg_id_of(m->hdr.opcode);",
            "\treturn prb_msg_decode_as(*id, buf, len, m, err);",
            "}",
            "",
            "int prb_msg_decode_as(enum prb_msg_id id, const void *buf, size_t len, union prb_msg *m,",
            "\t\t      struct prb_wire_error *err)",
            "{",
            *self.id_switch("prb_{0}_decode(buf, len, &m->{0}, err)"),
            "",
            "int prb_msg_encode(enum prb_msg_id id, const union prb_msg *m, void *buf, size_t len)",
            "{",
            *self.id_switch("prb_{0}_encode(&m->{0}, buf, len)"),
        ]
        return out

    def id_switch(self, call: str) -> list[str]:
        """A switch on a prb_msg_id returning call (with {0} the message name), and the
        closing brace of its function."""
        out = ["\tswitch (id) {"]
        for m in self.spec.messages:
            out += [f"\tcase {macro('msg_' + m.name)}:", f"\t\treturn {call.format(m.name)};"]
        return out + ["\tdefault:", "\t\treturn -EINVAL;", "\t}", "}"]
