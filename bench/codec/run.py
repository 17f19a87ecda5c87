#!/usr/bin/env python3
"""Instructions per encode and per decode of every prb message, counted by callgrind,
beside an unchecked memcpy of the same fixed part (the baseline); prints a Markdown table.

  bench/codec/run.py BENCH_CODEC_BINARY [ITERATIONS]

For each message and operation, bench_codec runs ITERATIONS calls (through
prb_msg_decode_as / prb_msg_encode); callgrind collects only inside the function under
test (--toggle-collect: prb_<msg>_decode, prb_<msg>_encode, bench_copy_in,
bench_copy_out), so the count is that function's own instructions and its callees',
divided by the number of calls.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "spec" / "prbgen"))
import model  # noqa: E402

# Each count is of the message's own codec function, as a caller that knows the message
# calls it; when the compiler merged it into an identical one (no such symbol to count),
# the generic entry point is counted instead, jump on the message id included, and the
# row says so.
OPS = {"decode": "prb_{}_decode", "copy-in": "bench_copy_in",
       "encode": "prb_{}_encode", "copy-out": "bench_copy_out"}
GENERIC = {"decode": "prb_msg_decode_as", "encode": "prb_msg_encode"}


def callgrind(binary: str, message: str, op: str, function: str, iterations: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        f"--toggle-collect={function}", binary, message, op, str(iterations)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = Path(out).read_text()
    m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    return int(m.group(1)) / iterations


def count(binary: str, message: str, op: str, iterations: int) -> tuple[float, bool]:
    """(instructions per call, whether the generic entry point was counted)."""
    n = callgrind(binary, message, op, OPS[op].format(message), iterations)
    if n == 0 and op in GENERIC:
        return callgrind(binary, message, op, GENERIC[op], iterations), True
    return n, False


def main() -> int:
    binary = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    spec = model.load(model.default_spec_path())
    print(f"Instructions per call (callgrind, {iterations} calls each); ratio = codec / memcpy.\n")
    print("| message | bytes | decode | memcpy in | ratio | encode | memcpy out | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    generic = False
    for m in spec.messages:
        n, mark = {}, {}
        for op in OPS:
            n[op], merged = count(binary, m.name, op, iterations)
            mark[op] = "*" if merged else ""
            generic |= merged
        rd, re_ = n["decode"] / n["copy-in"], n["encode"] / n["copy-out"]
        worst = max(worst, rd, re_)
        print(f"| {m.name} | {m.size} | {n['decode']:.0f}{mark['decode']} | {n['copy-in']:.0f} | "
              f"{rd:.2f} | {n['encode']:.0f}{mark['encode']} | {n['copy-out']:.0f} | {re_:.2f} |")
    if generic:
        print("\n\\* merged by the compiler with an identical function: counted through the "
              "generic entry point (prb_msg_decode_as / prb_msg_encode), dispatch included.")
    print(f"\nWorst ratio: {worst:.2f} (goal: 2.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
