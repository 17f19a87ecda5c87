#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# prb over rdma:// against perftest on the same Soft-RoCE devices, in one VM run:
#   scripts/rxe-vm.sh -C BUILD $PWD/bench/rdma/run-bench.sh BUILD [SECONDS [ROUNDS]]
# Brick on rxe0 (10.0.0.1), initiator through rxe1; perftest's server on rxe0, its
# client on rxe1, so both cross the same veth pair. Same message size and the same
# number of operations in flight on both sides; prb and perftest alternate, ROUNDS
# times per case (default 5), and the table shows the medians: MB/s for bandwidth
# (prb bench vs ib_read_bw / ib_write_bw), t_typical us for latency (prb_rdma_read_lat
# vs ib_read_lat, LAT_ITERS operations each, default 10000), and the ratio prb / perftest.
# The latency case runs LAT_ROUNDS rounds (default 15): a round takes seconds, and its
# result swings by more than the 5 % the goal allows. PRB_RDMA_CASES picks the cases and
# their order (default: lat read2m write2m read4k write4k).
set -u
if [ "${1-}" != --inner ]; then
	build=$(cd "${1:?usage: run-bench.sh BUILD [SECONDS [ROUNDS]]}" && pwd)
	src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
	export PRB_TARGET=$build/ref-target/prb-target
	exec "$src/scripts/with-target.sh" --listen rdma://10.0.0.1:0 -- \
		"$(readlink -f "$0")" --inner "$build" "${2:-5}" "${3:-5}"
fi
build=$2 secs=$3 rounds=$4 iters=${LAT_ITERS:-10000} lat_rounds=${LAT_ROUNDS:-15}
url=$(grep ^rdma: "$PRB_POOL_DIR/ready")
prb=$build/ref-initiator/tools/prb
lat=$build/bench/rdma/prb_rdma_read_lat

# The index of DEV's GID for IPV4 (::ffff:a.b.c.d), or nothing.
gid_index() {
	local want g
	want=$(printf '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' ${2//./ })
	for g in /sys/class/infiniband/"$1"/ports/1/gids/*; do
		[ "$(cat "$g" 2>/dev/null)" = "$want" ] && { basename "$g"; return; }
	done
}

# perftest picks GID 0, the IPv6 link-local one; prb's rdma_cm resolves 10.0.0.1 to
# the IPv4 GIDs. perftest is given those too, so both cross the same network path.
gid0=$(gid_index rxe0 10.0.0.1)
gid1=$(gid_index rxe1 10.0.0.2)
if [ -z "$gid0" ] || [ -z "$gid1" ]; then
	echo "run-bench: no IPv4 GID on rxe0/rxe1 for 10.0.0.1/10.0.0.2" >&2
	exit 1
fi

# perftest TOOL ARGS...: server on rxe0, client on rxe1; prints the client's output.
perftest() {
	local tool=$1
	shift
	"$tool" -d rxe0 -x "$gid0" -F "$@" >/tmp/perftest-server.log 2>&1 &
	sleep 1
	"$tool" -d rxe1 -x "$gid1" -F "$@" 10.0.0.1 2>&1
	wait
}

# Average MB/s of a perftest bandwidth run (its result line starts with the size). perftest's
# "MB/sec" are MiB/s (2^20 bytes): converted to 10^6 bytes, the unit of prb bench.
perftest_bw() {
	perftest "$@" | awk '$1 ~ /^[0-9]+$/ && NF >= 5 { v = $4 } END { printf "%.2f\n", v * 1.048576 }'
}

# t_typical of a latency run (fifth column), perftest's or prb_rdma_read_lat's.
typical() {
	awk '$1 ~ /^[0-9]+$/ && NF >= 5 { v = $5 } END { print v + 0 }'
}

# MB/s of prb bench (the eighth field of its CSV result line).
prb_bw() {
	"$prb" bench "$url" --csv --time "$secs" "$@" | awk -F, 'NR == 2 { print $8 + 0 }'
}

# Median of the numbers on stdin, failed runs (0) left out.
median() {
	awk '$1 > 0' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One table row: LABEL, prb's and perftest's medians, UNIT, their ratio, every round.
bench_row() {
	local label=$1 unit=$2 pm qm
	pm=$(printf '%s\n' $3 | median)
	qm=$(printf '%s\n' $4 | median)
	printf '%-38s %10s %10s %5s %7s   prb: %s  perftest: %s\n' "$label" "$pm" "$qm" "$unit" \
		"$(awk -v a="$pm" -v b="$qm" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')" \
		"$3" "$4" >>/tmp/bench-rows
}

# case LABEL UNIT "PRB-COMMAND" "PERFTEST-COMMAND" ["PRB-DEFAULT-COMMAND"]: alternate them
# $rounds times, print the medians. prb goes first in even rounds and perftest in odd
# ones, so that whatever the position in a round is worth (the host's scheduling, a
# warm device) does not always go to the same side; until 2026-11-26 perftest always
# ran second. The optional third command is prb with its defaults, reported in a row
# of its own.
bench_case() {
	local label=$1 unit=$2 p=() q=() d=() i
	for ((i = 0; i < rounds; i++)); do
		if ((i % 2 == 0)); then
			p+=("$(eval "$3")")
			q+=("$(eval "$4")")
		else
			q+=("$(eval "$4")")
			p+=("$(eval "$3")")
		fi
		[ -z "${5-}" ] || d+=("$(eval "$5")")
	done
	bench_row "$label" "$unit" "${p[*]}" "${q[*]}"
	[ -z "${5-}" ] || bench_row "  (prb defaults)" "$unit" "${d[*]}" "${q[*]}"
}

# Bandwidth: prb polls its completion queue without sleeping (--rdma-spin forever) and
# moves the same bytes from the same buffer every time (--one-buffer), as perftest does;
# the row below each shows prb with its defaults (a wait that sleeps after 2 ms, a
# buffer per request in flight, offsets walking the block).
bw_case() {
	local label=$1 args=$2 tool=$3

	bench_case "$label" MB/s "prb_bw $args --rdma-spin forever --one-buffer" \
		"perftest_bw $tool -D $secs" "prb_bw $args"
}

rm -f /tmp/bench-rows
# PRB_RDMA_CASES: which cases, in which order. Latency first by default: measured after
# the bandwidth runs, both tools' latencies came out about twice as high and scattered
# (45 -> 80-90 us) in two runs; measured first, they are steady.
for c in ${PRB_RDMA_CASES:-lat read2m write2m read4k write4k}; do
	case $c in
	lat) rounds=$lat_rounds bench_case "READ 8 B latency (t_typical)" us \
		"\"$lat\" \"$url\" 8 $iters | typical" "perftest ib_read_lat -s 8 -n $iters | typical" ;;
	read2m) bw_case "READ 2 MiB, 4 in flight" "--size 2M --qd 4" "ib_read_bw -s 2097152 -t 4" ;;
	write2m) bw_case "WRITE 2 MiB, 4 in flight" "--size 2M --qd 4 --write" \
		"ib_write_bw -s 2097152 -t 4" ;;
	read4k) bw_case "READ 4 KiB, 32 in flight" "--size 4K --qd 32" "ib_read_bw -s 4096 -t 32" ;;
	write4k) bw_case "WRITE 4 KiB, 32 in flight" "--size 4K --qd 32 --write" \
		"ib_write_bw -s 4096 -t 32" ;;
	*) echo "run-bench: unknown case '$c' (PRB_RDMA_CASES: lat read2m write2m read4k write4k)" >&2
	   exit 2 ;;
	esac
done

printf '%-38s %10s %10s %5s %7s   (each round)\n' measure prb perftest unit ratio
cat /tmp/bench-rows
