"""How the C codec spells things: literals, names, comments, checks (used by gen_c and
c_source)."""

from __future__ import annotations

from model import Enum, Field

# Requirement IDs of spec/PROTOCOL.md that the generated checks cite (STYLE: next to each
# validation, the requirement it enforces). `prbgen doc --check` fails if one disappears.
REQUIREMENTS = {
    "reserved": "PRB-REQ-2",     # a request's reserved fields and flag bits are zero
    "constraint": "PRB-REQ-3",   # a request's align, min, max, equals, enum
    "response_body": "PRB-PDU-9",  # a response carries a valid message
    "layout": "PRB-PDU-1",       # every field as its table gives (TERM)
    "term_reason": "PRB-TERM-1",
    "magic": "PRB-HDR-1",
    "hdr_flags": "PRB-HDR-4",
    "plen": "PRB-HDR-5",
    "hlen": "PRB-HDR-6",
    "request_status": "PRB-HDR-7",
    "frame": "PRB-PDU-12",       # the order of the header checks
    "no_payload": "PRB-PDU-2",
    "data_length": "PRB-PDU-3",
    "extents_count": "PRB-PDU-4",
    "error_response": "PRB-PDU-10",
    "digests": "PRB-DGST-5",
}

C_TYPES = {"u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t"}
DIRECTION_C = {"request": "PRB_DIR_REQUEST", "response": "PRB_DIR_RESPONSE",
               "either": "PRB_DIR_EITHER"}
PAYLOAD_C = {"none": "PRB_PAYLOAD_NONE", "data": "PRB_PAYLOAD_DATA",
             "extents": "PRB_PAYLOAD_EXTENTS"}


def lit(value: int, spelled: str | None = None) -> str:
    """An unsigned integer literal with the suffix its width needs."""
    text = spelled or str(value)
    return text + ("U" if value <= 0xFFFFFFFF else "ULL")


def macro(name: str) -> str:
    return f"PRB_{name.upper()}"


def comment(text: str, indent: str = "") -> list[str]:
    """A Doxygen comment, wrapped at 100 columns."""
    one = f"{indent}/** {text} */"
    if len(one.expandtabs(8)) <= 100:
        return [one]
    lines, line = [f"{indent}/**"], f"{indent} *"
    for word in text.split():
        if len((line + " " + word).expandtabs(8)) > 100:
            lines.append(line)
            line = f"{indent} *"
        line += " " + word
    return lines + [line, f"{indent} */"]


def documented(decl: str, doc: str, indent: str = "\t") -> list[str]:
    """decl with its doc after it (/**< */) when that fits 100 columns, else above it."""
    one = f"{indent}{decl} /**< {doc} */"
    if len(one.expandtabs(8)) <= 100:
        return [one]
    return comment(doc, indent) + [f"{indent}{decl}"]


def c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bound(value: int, ref: str | None) -> str:
    """A bound as C: the constant's macro when the spec names one, else a literal."""
    return macro(ref) if ref else lit(value)


def member_decl(f: Field) -> str:
    if f.is_bytes:
        return f"uint8_t {f.name}[{f.size}];"
    return f"{C_TYPES[f.type]} {f.name};"


def enum_range_test(e: Enum, value: str) -> str:
    """C condition true when value is not a member of enum e."""
    numbers = sorted(v.value for v in e.values)
    by_value = {v.value: v for v in e.values}
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        high = f"{value} > {e.c_name(by_value[numbers[-1]])}"
        if numbers[0] == 0:
            return high
        return f"{value} < {e.c_name(by_value[numbers[0]])} || {high}"
    return f"prb_{e.name}_name({value}) == NULL"


def cited_if(cond: str, cite: str | None, indent: str = "\t") -> str:
    """'if (cond)' with the requirement it enforces as a trailing comment."""
    return f"{indent}if ({cond})" + (f" /* {REQUIREMENTS[cite]} */" if cite else "")


# The requirements a body field's checks enforce, by the direction of its message.
ROLE_CITES = {
    "request": {"reserved": "reserved", "constraint": "constraint"},
    "response": {"reserved": "response_body", "constraint": "response_body"},
    "either": {"reserved": "layout", "constraint": "term_reason"},
}


def field_tests(f: Field, value: str, equals_errno: str = "EINVAL", cites: dict | None = None,
                role: str = "request") -> list[tuple[str, str, str, str | None]]:
    """(C condition true when value is wrong, errno, reason, cite) of each check of one
    field, in the order the errors are reported.

    role is the direction of the field's message (which requirements it cites); cites
    maps a check kind (reserved, enum, flags, equals, ...) to a REQUIREMENTS key when
    the field enforces another requirement (the header's fields)."""
    base = ROLE_CITES[role]
    cites = {"reserved": base["reserved"], "enum": base["constraint"],
             "flags": base["reserved"], "equals": base["constraint"],
             "constraint": base["constraint"], **(cites or {})}
    tests: list[tuple[str, str, str, str | None]] = []
    if f.reserved:
        tests.append((f"{value} != 0", "EINVAL", "reserved: must be zero", cites["reserved"]))
    if f.enum:
        tests.append((enum_range_test(f.enum, value), "ERANGE", f"not a {f.enum.name} value",
                      cites["enum"]))
    if f.flags and not f.ignores_unknown_bits:  # ignored bits: kept for the caller to mask
        tests.append((f"{value} & ~{macro(f.flags.prefix + '_ALL')}", "EINVAL",
                      f"undefined {f.flags.name} bits", cites["flags"]))
    if f.equals is not None:
        ref = f.equals_ref or str(f.equals)
        tests.append((f"{value} != {bound(f.equals, f.equals_ref)}", equals_errno,
                      f"must equal {ref}", cites["equals"]))
    if f.align is not None:
        ref = f.align_ref or str(f.align)
        tests.append((f"{value} & ({bound(f.align, f.align_ref)} - 1)", "EINVAL",
                      f"not a multiple of {ref}", cites["constraint"]))
    if f.min is not None:
        tests.append((f"{value} < {bound(f.min, f.min_ref)}", "EINVAL",
                      f"below min {f.min_ref or f.min}", cites["constraint"]))
    if f.max is not None and f.max < f.type_max:
        tests.append((f"{value} > {bound(f.max, f.max_ref)}", "E2BIG",
                      f"above max {f.max_ref or f.max}", cites["constraint"]))
    return tests


def field_checks(owner: str, f: Field, value: str, equals_errno: str = "EINVAL",
                 cites: dict | None = None, role: str = "request") -> list[str]:
    """The checks of one decoded field (field_tests), each returning fail() with the field's
    offset and name."""
    where = f'{f.offset}, "{owner}.{f.name}"'
    lines = []
    for cond, errno, reason, cite in field_tests(f, value, equals_errno, cites, role):
        lines += [cited_if(cond, cite)] + fail_stmt("\t\t", errno, where, reason)
    return lines


def with_comment(lines: list[str], text: str) -> list[str]:
    """lines with /* text */ after the last one, or on a line of its own above them when
    that would pass 100 columns."""
    if not text:
        return lines
    last = f"{lines[-1]} /* {text} */"
    if len(last.expandtabs(8)) <= 100:
        return lines[:-1] + [last]
    indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())]
    return [f"{indent}/* {text} */"] + lines


def align_to(prefix: str) -> str:
    """Tabs then spaces reaching the column after prefix (for continuation lines)."""
    column = len(prefix.expandtabs(8))
    return "\t" * (column // 8) + " " * (column % 8)


def fail_stmt(indent: str, errno: str, where: str, reason: str) -> list[str]:
    """'return fail(...);', wrapped before the reason when the line passes 100 columns."""
    head = f"{indent}return fail(err, -{errno}, {where}, "
    one = head + c_string(reason) + ");"
    if len(one.expandtabs(8)) <= 100:
        return [one]
    opening = f"{indent}return fail("
    return [head.rstrip(), align_to(opening) + c_string(reason) + ");"]


def pack(opening: str, parts: list[str], closing: str, sep: str = ",") -> list[str]:
    """opening, parts joined by sep and a space, closing: wrapped at 100 columns under the
    first part."""
    lines, line = [], opening
    for i, part in enumerate(parts):
        piece = part + (closing if i == len(parts) - 1 else sep)
        if line != opening and len((line + " " + piece).expandtabs(8)) > 100:
            lines.append(line)
            line = align_to(opening) + piece
        else:
            line += ("" if line == opening else " ") + piece
    return lines + [line]


def getter(f: Field, at: str) -> str:
    return f"get_{f.type}({at} + {f.offset})" if f.type != "u8" else f"{at}[{f.offset}]"
