#!/usr/bin/env python3
"""Seed corpus for fuzz_decode from the test vectors: one file per vector, its first
byte selecting the decoder as fuzz_decode.c does (message index, then hdr, extent, any,
URL), plus a few URLs.
Usage: fuzz_corpus.py SPEC VECTORS OUTDIR"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "prbgen"))
import model  # noqa: E402


def main() -> int:
    spec = model.load(sys.argv[1])
    names = [m.name for m in spec.messages]
    selector = {name: i for i, name in enumerate(names)}
    selector["hdr"] = len(names)
    selector["extent"] = len(names) + 1
    out = Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("seed-*"):
        old.unlink()
    count = 0
    record: dict = {}
    for line in Path(sys.argv[2]).read_text().splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line:
            if "hex" in record and record.get("what") in selector:
                data = bytes.fromhex(record["hex"])
                for sel in (selector[record["what"]], len(names), len(names) + 2):
                    if sel != len(names) + 2 or record["what"] != "extent":
                        (out / f"seed-{count:05d}").write_bytes(bytes([sel]) + data)
                        count += 1
            record = {}
            continue
        key, _, value = line.partition(" ")
        if key in ("message", "struct"):
            record["what"] = value
        elif key == "hex":
            record["hex"] = value
    url = len(names) + 3  # PARSE_URL in fuzz_decode.c
    for text in ("tcp://127.0.0.1:7117", "rdma://[fe80::1%eth0]:9", "tcp://[::1]", "tcp://h"):
        (out / f"seed-{count:05d}").write_bytes(bytes([url]) + text.encode())
        count += 1
    print(f"fuzz_corpus: {count} seeds in {out}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
