#!/bin/bash
# bench/net/run.sh [BUILD_DIR]: libprb over loopback TCP against baselines, all in one run.
#
#   (a) 2 MiB READ and WRITE through libprb (prb bench)   vs  iperf3 -c 127.0.0.1 (one stream)
#   (b) 4 KiB READ at queue depth 32 (prb bench)          vs  redis-benchmark -t get -d 4096 -P 32
#   (c) ALLOC+FREE round trips, p50 (ctl_lat)             vs  raw TCP ping-pong, 32 B out, 16 B back,
#                                                             two round trips per sample (pingpong)
#       and, to isolate libprb: KEEPALIVE pairs through libprb against a blocking stub brick
#       (stub.c: the raw server's loop, speaking HELLO and KEEPALIVE) vs ping-pong 16/16 B
#   and (b) twice more, informational: `prb bench --busy-poll 0` (never poll: the default until
#   the adaptive poll) and `--busy-poll 100` (a fixed spin); the goal row is the default
# Every server (prb-target with its pool on /dev/shm, iperf3, redis-server, the ping-pong
# server) is started here on 127.0.0.1 and stopped at the end. Prints a Markdown table.
# Environment: PRB_BENCH_SECONDS (default 5) per throughput measurement, PRB_BENCH_ROUNDS
# (default 3) rounds; each figure is the best of the rounds, for libprb and baselines alike;
# PRB_BENCH_QD_2M (default 2) requests in flight for the 2 MiB runs; PRB_BENCH_PARTS (default
# "2m,4k,ctl") which measurements to make ("4k,ctl" skips the 2 MiB runs: a shorter A/B run).
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
secs=${PRB_BENCH_SECONDS:-5}
rounds=${PRB_BENCH_ROUNDS:-3}
qd_2m=${PRB_BENCH_QD_2M:-2}
parts=",${PRB_BENCH_PARTS:-2m,4k,ctl},"
want() { [[ $parts == *",$1,"* ]]; }
prb=$build/ref-initiator/tools/prb
target=$build/ref-target/prb-target
pingpong=$build/bench/net/prb_bench_pingpong
ctl_lat=$build/bench/net/prb_bench_ctl_lat
stub=$build/bench/net/prb_bench_stub
for exe in "$prb" "$target" "$pingpong" "$ctl_lat" "$stub"; do
	[ -x "$exe" ] || { echo "bench/net: $exe not built" >&2; exit 1; }
done
for tool in iperf3 redis-server redis-benchmark redis-cli python3; do
	command -v "$tool" >/dev/null || { echo "bench/net: $tool not installed" >&2; exit 1; }
done

tmp=$(mktemp -d /dev/shm/prb-bench-net.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # FILE
	for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "bench/net: $1 did not appear" >&2
	exit 1
}
json() { # FIELD: read a JSON object on stdin, print one field (dotted path)
	python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"
}

"$target" --pool "$tmp/pool" --size 1G --listen tcp://127.0.0.1:0 --ready-file "$tmp/ready" \
	2>"$tmp/target.log" &
pids+=($!)
wait_for "$tmp/ready"
url=$(head -n 1 "$tmp/ready")

iperf_port=$(free_port)
iperf3 -s -B 127.0.0.1 -p "$iperf_port" >/dev/null 2>&1 &
pids+=($!)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize no >"$tmp/redis.log" 2>&1 &
pids+=($!)
"$pingpong" server "$tmp/pp_port" &
pids+=($!)
"$stub" "$tmp/stub_port" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
wait_for "$tmp/pp_port"
wait_for "$tmp/stub_port"
# The GET test reads the key the SET test writes: 4096-byte values, as prb's 4 KiB READs.
redis-benchmark -p "$redis_port" -t set -d 4096 -n 1000 -q >/dev/null
value_len=$(redis-cli -p "$redis_port" strlen 'key:__rand_int__')
[ "$value_len" = 4096 ] || { echo "bench/net: redis value is $value_len bytes" >&2; exit 1; }

# Rounds alternate libprb and baseline runs; each side keeps its best (the machine may
# be shared: the best run is the one least disturbed).
best_max() { awk -v a="$1" -v b="$2" 'BEGIN {print (a == "" || b > a) ? b : a}'; }
best_min() { awk -v a="$1" -v b="$2" 'BEGIN {print (a == "" || b < a) ? b : a}'; }
iperf_mbs= read_mbs= write_mbs= redis_rps= prb_4k= prb_4k_poll= prb_4k_nopoll= raw_p50= ctl_p50= ka_p50= raw16_p50= stub_p50=
for round in $(seq "$rounds"); do
	echo "bench/net: round $round of $rounds" >&2
	if want 2m; then
		v=$(iperf3 -c 127.0.0.1 -p "$iperf_port" -t "$secs" -J |
			json end.sum_received.bits_per_second | awk '{printf "%.1f", $1 / 8e6}')
		iperf_mbs=$(best_max "$iperf_mbs" "$v")
		v=$("$prb" bench "$url" --size 2M --qd "$qd_2m" --time "$secs" --json | json mb_per_sec)
		read_mbs=$(best_max "$read_mbs" "$v")
		v=$("$prb" bench "$url" --write --size 2M --qd "$qd_2m" --time "$secs" --json | json mb_per_sec)
		write_mbs=$(best_max "$write_mbs" "$v")
	fi
	if want 4k; then
		v=$(redis-benchmark -p "$redis_port" -t get -d 4096 -P 32 -n $((secs * 300000)) --csv |
			awk -F'"' '/^"GET"/ {print $4}')
		redis_rps=$(best_max "$redis_rps" "$v")
		v=$("$prb" bench "$url" --size 4K --qd 32 --time "$secs" --json | json ops_per_sec)
		prb_4k=$(best_max "$prb_4k" "$v")
		v=$("$prb" bench "$url" --size 4K --qd 32 --busy-poll 100 --time "$secs" --json |
			json ops_per_sec)
		prb_4k_poll=$(best_max "$prb_4k_poll" "$v")
		v=$("$prb" bench "$url" --size 4K --qd 32 --busy-poll 0 --time "$secs" --json |
			json ops_per_sec)
		prb_4k_nopoll=$(best_max "$prb_4k_nopoll" "$v")
	fi
	if want ctl; then
		v=$("$pingpong" client "$(cat "$tmp/pp_port")" 20000 32 16 2 | awk '{print $2}')
		raw_p50=$(best_min "$raw_p50" "$v")
		out=$("$ctl_lat" "$url" 20000)
		ctl_p50=$(best_min "$ctl_p50" "$(echo "$out" | awk '/^allocfree/ {print $3}')")
		ka_p50=$(best_min "$ka_p50" "$(echo "$out" | awk '/^keepalive/ {print $3}')")
		v=$("$pingpong" client "$(cat "$tmp/pp_port")" 20000 16 16 2 | awk '{print $2}')
		raw16_p50=$(best_min "$raw16_p50" "$v")
		v=$("$ctl_lat" "tcp://127.0.0.1:$(cat "$tmp/stub_port")" 20000 keepalive | awk '{print $3}')
		stub_p50=$(best_min "$stub_p50" "$v")
	fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { # RATIO OP GOAL
	awk -v r="$1" -v g="$3" -v op="$2" 'BEGIN {ok = (op == ">=") ? r >= g : r <= g; print ok ? "yes" : "NO"}'
}
echo "| measurement | libprb | baseline | ratio | goal | met |"
echo "|---|---|---|---|---|---|"
if want 2m; then
	r_read=$(ratio "$read_mbs" "$iperf_mbs")
	r_write=$(ratio "$write_mbs" "$iperf_mbs")
	echo "| 2 MiB READ, QD$qd_2m, MB/s (vs iperf3 one stream) | $read_mbs | $iperf_mbs | $r_read | >= 0.90 | $(verdict "$r_read" ">=" 0.9) |"
	echo "| 2 MiB WRITE, QD$qd_2m, MB/s (vs iperf3 one stream) | $write_mbs | $iperf_mbs | $r_write | >= 0.90 | $(verdict "$r_write" ">=" 0.9) |"
fi
if want 4k; then
	r_4k=$(ratio "$prb_4k" "$redis_rps")
	r_4k_poll=$(ratio "$prb_4k_poll" "$redis_rps")
	r_4k_nopoll=$(ratio "$prb_4k_nopoll" "$redis_rps")
	echo "| 4 KiB READ, QD32, ops/s (vs redis GET 4096 B, -P 32) | $prb_4k | $redis_rps | $r_4k | >= 1.50 | $(verdict "$r_4k" ">=" 1.5) |"
	echo "| (4 KiB READ as above with --busy-poll 0: libprb never polls) | $prb_4k_nopoll | $redis_rps | $r_4k_nopoll | | |"
	echo "| (4 KiB READ as above with --busy-poll 100: a fixed spin before each sleep) | $prb_4k_poll | $redis_rps | $r_4k_poll | | |"
fi
if want ctl; then
	r_ctl=$(ratio "$ctl_p50" "$raw_p50")
	r_ka=$(ratio "$ka_p50" "$raw_p50")
	r_stub=$(ratio "$stub_p50" "$raw16_p50")
	echo "| ALLOC+FREE p50, us (vs TCP ping-pong 32/16 B x2) | $ctl_p50 | $raw_p50 | $r_ctl | <= 1.20 | $(verdict "$r_ctl" "<=" 1.2) |"
	echo "| (KEEPALIVE x2 p50, us: the same round trips without the brick's store work) | $ka_p50 | $raw_p50 | $r_ka | | |"
	echo "| (KEEPALIVE x2 p50, us, libprb against a blocking stub brick, vs ping-pong 16/16 B x2: libprb alone) | $stub_p50 | $raw16_p50 | $r_stub | | |"
fi
echo
echo "loopback, $(nproc) cores, best of $rounds rounds, ${secs}s per throughput run, $(date -u +%Y-%m-%dT%H:%MZ)"
