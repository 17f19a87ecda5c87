"""Markdown tables for spec/PROTOCOL.md, kept in generated regions.

A region is
    <!-- prbgen:begin NAME -->
    ...generated, rewritten by `prbgen doc --update`...
    <!-- prbgen:end NAME -->
where NAME is `constants`, `messages` (summary), `enum:<name>`, `struct:<name>`,
`message:<name>`, `example:<name>` (a worked example, gen_examples.py), or
`vectors:format` / `vectors:errors` (the test vectors' format and decoder failures). `prbgen doc --check` fails with a diff when a region drifts from
the spec, or names something the spec does not have; it also fails when the file is
missing, when a region the spec calls for (see `required_regions`) is absent, when a
sentence with MUST, SHALL or REQUIRED does not start with a requirement ID or an ID is
defined twice, and when the prose restates a constant's value next to its name.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

import gen_examples
import gen_vectors
from model import Enum, Field, Message, Spec
from output import write_if_changed

BEGIN = re.compile(r"^<!-- prbgen:begin (\S+) -->\s*$")
END = re.compile(r"^<!-- prbgen:end (\S+) -->\s*$")
# A requirement ID where it is defined: at the start of its sentence, in brackets.
REQUIREMENT_ID = re.compile(r"^\[(PRB-[A-Z]+-[0-9]+)\]")
# The BCP 14 words that make a sentence a requirement; quoted, they are only mentioned.
REQUIREMENT_WORD = re.compile(r"(?<![\"'`])\b(MUST|SHALL|REQUIRED)\b(?![\"'`])")
# A sentence ends at . ! or ? followed by space and what can start a sentence.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\[`(\"])")
LIST_ITEM = re.compile(r"^([-*+]|[0-9]+\.)\s+")


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


def vectors(what: str) -> list[str]:
    """The test vectors' file format, or the table of decoder failures."""
    if what == "format":
        return ["```"] + gen_vectors.FORMAT.rstrip("\n").split("\n") + ["```"]
    if what == "errors":
        return table(["Order", "`expect`", "Failure", "Offset blamed"],
                     [[str(i), f"`{name}`", what_, blamed]
                      for i, (name, what_, blamed) in enumerate(gen_vectors.DECODE_ERRORS, 1)])
    raise DocError(f"unknown region 'vectors:{what}' (vectors:format, vectors:errors)")


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
        if kind == "example":
            return gen_examples.render(spec, what)
        if kind == "vectors":
            return vectors(what)
    except gen_examples.ExampleError as e:
        raise DocError(f"region '{name}': {e}") from None
    except StopIteration:
        raise DocError(f"region '{name}': the spec has no {kind} '{what}'") from None
    raise DocError(f"unknown region '{name}' (constants, messages, enum:N, struct:N, message:N, "
                   "example:N, vectors:format, vectors:errors)")


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


def required_regions(spec: Spec) -> list[str]:
    """Every region the document must hold: one per table the spec has."""
    return (["constants", "messages"] + [f"enum:{e.name}" for e in spec.enums]
            + [f"example:{name}" for name in gen_examples.EXAMPLES]
            + ["vectors:format", "vectors:errors"]
            + [f"struct:{s.name}" for s in spec.structs]
            + [f"message:{m.name}" for m in spec.messages])


def missing_regions(spec: Spec, text: str) -> list[str]:
    present = {m.group(1) for m in map(BEGIN.match, text.split("\n")) if m}
    return [r for r in required_regions(spec) if r not in present]


def prose_blocks(text: str):
    """(first line, text) of each paragraph, list item, heading and table row outside
    generated regions and code blocks, its lines joined."""
    block: list[str] = []
    start, generated, code = 0, False, False
    for lineno, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if BEGIN.match(line):
            generated = True
        if generated or code or stripped.startswith("```"):
            if stripped.startswith("```"):
                code = not code
            if END.match(line):
                generated = False
            if block:
                yield start, " ".join(block)
                block = []
            continue
        single = stripped.startswith(("#", "|"))
        if block and (not stripped or single or LIST_ITEM.match(stripped)):
            yield start, " ".join(block)
            block = []
        if not stripped:
            continue
        if not block:
            start = lineno
        block.append(stripped if single else LIST_ITEM.sub("", stripped))
        if single:
            yield start, " ".join(block)
            block = []
    if block:
        yield start, " ".join(block)


def requirement_problems(text: str, path: Path) -> list[str]:
    """Sentences with MUST/SHALL/REQUIRED that do not start with a requirement ID, and
    IDs defined more than once (section 1.1 of PROTOCOL.md)."""
    problems, defined = [], {}
    for lineno, block in prose_blocks(text):
        for sentence in SENTENCE_END.split(block):
            found = REQUIREMENT_ID.match(sentence)
            if found:
                rid = found.group(1)
                if rid in defined:
                    problems.append(f"{path}:{lineno}: requirement {rid} defined again "
                                    f"(first at line {defined[rid]})")
                else:
                    defined[rid] = lineno
            elif REQUIREMENT_WORD.search(sentence):
                problems.append(f"{path}:{lineno}: a requirement without an ID "
                                f"([PRB-AREA-N] first): {sentence[:100]}")
    return problems


def restated_constants(spec: Spec, text: str, path: Path) -> list[str]:
    """Places in the prose that give a constant's value next to its name
    (`name` (30)): the prose names constants, the constants table gives values."""
    problems = []
    for lineno, block in prose_blocks(text):
        for c in spec.constants:
            for m in re.finditer(rf"`{re.escape(c.name)}`\s*\(\s*([0-9][0-9a-fA-FxX]*)", block):
                try:
                    value = int(m.group(1), 0)
                except ValueError:
                    continue
                if value == c.value:
                    problems.append(f"{path}:{lineno}: the prose restates the value of "
                                    f"`{c.name}` ({m.group(1)}): name the constant only")
    return problems


def missing_requirements(text: str) -> list[str]:
    """Requirement IDs the generated codec cites that the document does not define."""
    from c_spelling import REQUIREMENTS
    return sorted({r for r in REQUIREMENTS.values() if f"[{r}]" not in text})


def check(spec: Spec, path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8")
        new = regenerate(spec, text, path)
    except (OSError, DocError) as e:
        print(f"prbgen doc: {e}", file=sys.stderr)
        return 1
    absent = missing_regions(spec, text)
    if absent:
        print(f"prbgen doc: {path} lacks the generated region(s) "
              f"{', '.join(absent)}: add <!-- prbgen:begin NAME --> and "
              f"<!-- prbgen:end NAME --> where each belongs, then run doc --update",
              file=sys.stderr)
        return 1
    problems = requirement_problems(text, path) + restated_constants(spec, text, path)
    if problems:
        print("\n".join(f"prbgen doc: {p}" for p in problems), file=sys.stderr)
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
