#!/usr/bin/env python3
"""Instructions per encode and per decode of every prb message, counted by callgrind,
beside an unchecked memcpy of the same fixed part (the baseline); prints a Markdown table.

  bench/codec/run.py BENCH_CODEC_BINARY [ITERATIONS]

For each message and operation, bench_codec runs ITERATIONS calls; callgrind collects
only inside the function under test (--toggle-collect: prb_<msg>_decode,
prb_<msg>_encode, bench_copy_in, bench_copy_out), so the count is that function's own
instructions and its callees', divided by the number of calls.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "spec" / "prbgen"))
import model  # noqa: E402

# prb_msg_decode_as/prb_msg_encode: the message's codec plus a switch on the id (a few
# instructions); compilers merge identical codecs (info_req, keepalive_req), so the
# message's own symbol is not always there to count.
OPS = {"decode": "prb_msg_decode_as", "copy-in": "bench_copy_in",
       "encode": "prb_msg_encode", "copy-out": "bench_copy_out"}


def count(binary: str, message: str, op: str, iterations: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        f"--toggle-collect={OPS[op]}", binary, message, op,
                        str(iterations)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = Path(out).read_text()
    m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    return int(m.group(1)) / iterations


def main() -> int:
    binary = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    spec = model.load(model.default_spec_path())
    print(f"Instructions per call (callgrind, {iterations} calls each); ratio = codec / memcpy.\n")
    print("| message | bytes | decode | memcpy in | ratio | encode | memcpy out | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for m in spec.messages:
        n = {op: count(binary, m.name, op, iterations) for op in OPS}
        rd, re_ = n["decode"] / n["copy-in"], n["encode"] / n["copy-out"]
        worst = max(worst, rd, re_)
        print(f"| {m.name} | {m.size} | {n['decode']:.0f} | {n['copy-in']:.0f} | {rd:.2f} | "
              f"{n['encode']:.0f} | {n['copy-out']:.0f} | {re_:.2f} |")
    print(f"\nWorst ratio: {worst:.2f} (goal: 2.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
