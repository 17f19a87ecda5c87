"""What every generator output shares: the banner and write-if-changed."""

from __future__ import annotations

from pathlib import Path

BANNER = "Generated from spec/prb.toml by prbgen. Do not edit: edit the spec and rebuild."


def banner(style: str) -> str:
    """The first lines of a generated file, as a comment in the given style ('c' or '#')."""
    if style == "c":
        return f"/* {BANNER} */\n"
    if style == "#":
        return f"# {BANNER}\n"
    raise ValueError(f"unknown comment style {style!r}")


def write_if_changed(path: str | Path, text: str) -> bool:
    """Write text to path unless it already holds exactly that; True when written.

    Leaving an unchanged file alone keeps its mtime, so make/ninja rebuild nothing.
    """
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True
