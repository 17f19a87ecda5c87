"""Markdown tables for spec/PROTOCOL.md, kept in generated regions.

A region is
    <!-- prbgen:begin NAME -->
    ...generated, rewritten by `prbgen doc --update`...
    <!-- prbgen:end NAME -->
where NAME is `constants`, `messages` (summary), `enum:<name>`, `struct:<name>` or
`message:<name>`. `prbgen doc --check` fails with a diff when a region drifts from
the spec, or names something the spec does not have.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

from model import Enum, Field, Message, Spec
from output import write_if_changed

BEGIN = re.compile(r"^<!-- prbgen:begin (\S+) -->\s*$")
END = re.compile(r"^<!-- prbgen:end (\S+) -->\s*$")


class DocError(Exception):
    pass


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def const_text(spec: Spec, value: int, ref: str | None) -> str:
    """A bound: the constant's name and value as the spec spells it, or the number."""
    if ref:
        literal = next(c.literal for c in spec.constants if c.name == ref)
        return f"`{ref}` ({literal})"
    return str(value)


def allowed(spec: Spec, f: Field, payload: str = "none") -> str:
    """What values a field may hold, in words."""
    if f.reserved:
        return "reserved: 0"
    parts = []
    if f.enum:
        parts.append(f"enum `{f.enum.name}`: " + ", ".join(v.name for v in f.enum.values))
    if f.flags:
        others = ("unknown bits ignored (accepted, never granted)"
                  if f.ignores_unknown_bits else "other bits reserved (0)")
        parts.append(f"flags `{f.flags.name}`: " + ", ".join(v.name for v in f.flags.values)
                     + "; " + others)
    if f.equals is not None:
        parts.append("= " + const_text(spec, f.equals, f.equals_ref))
    if f.align is not None:
        parts.append("multiple of " + const_text(spec, f.align, f.align_ref))
    if f.min is not None:
        parts.append(">= " + const_text(spec, f.min, f.min_ref))
    if f.max is not None:
        parts.append("<= " + const_text(spec, f.max, f.max_ref))
    if f.payload_length:
        unit = "payload bytes" if payload == "data" else "extent records in the payload"
        parts.append(f"= {unit}")
    return "; ".join(parts) if parts else "any"


def field_rows(spec: Spec, fields: list[Field], payload: str = "none") -> list[list[str]]:
    return [[str(f.offset), str(f.size), f.type, f"`{f.name}`", allowed(spec, f, payload), f.doc]
            for f in fields]


FIELD_HEADER = ["Offset", "Size", "Type", "Field", "Allowed values", "Meaning"]


def constants(spec: Spec) -> list[str]:
    return table(["Constant", "Value", "Meaning"],
                 [[f"`{c.name}`", c.literal, c.doc] for c in spec.constants])


def enum(spec: Spec, e: Enum) -> list[str]:
    kind = "Bit" if e.is_flags else "Value"
    head = [f"`{e.name}` ({e.kind}, {e.type}): {e.doc}", ""]
    return head + table(["Name", kind, "Meaning"],
                        [[f"`{v.name}`", v.literal, v.doc] for v in e.values])


def struct(spec: Spec, name: str) -> list[str]:
    s = spec.struct(name)
    head = [f"`{s.name}` ({s.size} bytes): {s.doc}", ""]
    return head + table(FIELD_HEADER, field_rows(spec, s.fields))


def payload_text(spec: Spec, m: Message) -> str:
    if m.payload == "none":
        return "none"
    if m.payload == "extents":
        return f"`{m.payload_field.name}` records of `extent` ({spec.struct('extent').size} bytes each)"
    if m.payload_field:
        return f"data, `{m.payload_field.name}` bytes"
    return f"data, at most {const_text(spec, m.payload_max, m.payload_max_ref)} bytes"


def message(spec: Spec, m: Message) -> list[str]:
    op = f"`{m.opcode.name}` ({m.opcode_byte:#04x})"
    head = [f"`{m.name}`: {m.doc} Opcode byte {op}, {m.direction}, fixed part {m.size} bytes, "
            f"payload: {payload_text(spec, m)}.", ""]
    hdr = [["0", str(spec.hdr.size), "hdr", "`hdr`",
            f"opcode = {m.opcode_byte:#04x}, hlen = {m.size}", "Common header (`struct:hdr`)."]]
    return head + table(FIELD_HEADER, hdr + field_rows(spec, m.fields, m.payload))


def messages(spec: Spec) -> list[str]:
    return table(["Message", "Opcode byte", "Direction", "Size", "Payload"],
                 [[f"`{m.name}`", f"{m.opcode_byte:#04x}", m.direction, str(m.size),
                   payload_text(spec, m)] for m in spec.messages])


def render(spec: Spec, name: str) -> list[str]:
    """The generated lines of region NAME; DocError when the spec has no such thing."""
    if name == "constants":
        return constants(spec)
    if name == "messages":
        return messages(spec)
    kind, _, what = name.partition(":")
    try:
        if kind == "enum":
            return enum(spec, spec.enum(what))
        if kind == "struct":
            return struct(spec, what)
        if kind == "message":
            return message(spec, spec.message(what))
    except StopIteration:
        raise DocError(f"region '{name}': the spec has no {kind} '{what}'") from None
    raise DocError(f"unknown region '{name}' (constants, messages, enum:N, struct:N, message:N)")


def regenerate(spec: Spec, text: str, path: Path) -> str:
    """text with every region rewritten from the spec."""
    out: list[str] = []
    open_name, open_line = None, 0
    for lineno, line in enumerate(text.split("\n"), 1):
        begin, end = BEGIN.match(line), END.match(line)
        if open_name is None:
            if end:
                raise DocError(f"{path}:{lineno}: end of region '{end.group(1)}' without a begin")
            out.append(line)
            if begin:
                open_name, open_line = begin.group(1), lineno
                try:
                    out += [""] + render(spec, open_name) + [""]
                except DocError as e:
                    raise DocError(f"{path}:{lineno}: {e}") from None
        elif end:
            if end.group(1) != open_name:
                raise DocError(f"{path}:{lineno}: end of '{end.group(1)}' inside region "
                               f"'{open_name}' (line {open_line})")
            out.append(line)
            open_name = None
        elif begin:
            raise DocError(f"{path}:{lineno}: region '{begin.group(1)}' begins inside region "
                           f"'{open_name}' (line {open_line})")
    if open_name is not None:
        raise DocError(f"{path}:{open_line}: region '{open_name}' has no end marker")
    return "\n".join(out)


def update(spec: Spec, path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8")
        new = regenerate(spec, text, path)
    except (OSError, DocError) as e:
        print(f"prbgen doc: {e}", file=sys.stderr)
        return 1
    if write_if_changed(path, new):
        print(f"prbgen doc: updated {path}")
    return 0


def missing_requirements(text: str) -> list[str]:
    """Requirement IDs the generated codec cites that the document does not define."""
    from c_spelling import REQUIREMENTS
    return sorted({r for r in REQUIREMENTS.values() if f"[{r}]" not in text})


def check(spec: Spec, path: Path) -> int:
    if not path.exists():
        print(f"prbgen doc: {path} does not exist yet: table check skipped")
        return 0
    text = path.read_text(encoding="utf-8")
    try:
        new = regenerate(spec, text, path)
    except DocError as e:
        print(f"prbgen doc: {e}", file=sys.stderr)
        return 1
    missing = missing_requirements(text)
    if missing:
        print(f"prbgen doc: {path} no longer defines {', '.join(missing)}, cited by the "
              f"generated codec (spec/prbgen/c_spelling.py REQUIREMENTS)", file=sys.stderr)
        return 1
    if new == text:
        return 0
    diff = difflib.unified_diff(text.split("\n"), new.split("\n"), f"{path}",
                                f"{path} (from spec/prb.toml)", lineterm="")
    print("\n".join(diff), file=sys.stderr)
    print(f"prbgen doc: {path}: generated tables differ from spec/prb.toml; run\n"
          f"  python3 spec/prbgen/prbgen.py doc --update {path}", file=sys.stderr)
    return 1
