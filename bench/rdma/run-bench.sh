#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# prb over rdma:// against perftest on the same Soft-RoCE devices, in one VM run:
#   scripts/rxe-vm.sh -C BUILD $PWD/bench/rdma/run-bench.sh BUILD [SECONDS]
# Brick on rxe0 (10.0.0.1), initiator through rxe1; perftest's server on rxe0, its
# client on rxe1, so both cross the same veth pair. Same message size and the same
# number of operations in flight on both sides. Prints one table: MB/s for bandwidth
# (prb bench vs ib_read_bw / ib_write_bw), t_typical us for latency (prb_rdma_read_lat
# vs ib_read_lat), and the ratio prb / perftest.
set -u
build=$(cd "${1:?usage: run-bench.sh BUILD [SECONDS]}" && pwd)
secs=${2:-5}
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export PRB_TARGET=$build/ref-target/prb-target
prb=$build/ref-initiator/tools/prb
lat=$build/bench/rdma/prb_rdma_read_lat
rows=()

# perftest NAME ARGS...: server on rxe0, client on rxe1; prints the client's output.
perftest() {
	local tool=$1
	shift
	"$tool" -d rxe0 -F "$@" >/tmp/perftest-server.log 2>&1 &
	sleep 1
	"$tool" -d rxe1 -F "$@" 10.0.0.1 2>&1
	wait
}

# The average MB/s of a perftest bandwidth run (the line starting with the size).
perftest_bw() {
	perftest "$@" | awk '$1 ~ /^[0-9]+$/ && NF >= 5 { v = $4 } END { print v }'
}

# t_typical of ib_read_lat (the fifth column of its result line).
perftest_lat() {
	perftest ib_read_lat "$@" | awk '$1 ~ /^[0-9]+$/ && NF >= 5 { v = $5 } END { print v }'
}

# MB/s of prb bench (its CSV line: MB/s is the eighth field).
prb_bw() {
	"$prb" bench "$RDMA_URL" --csv --time "$secs" "$@" | awk -F, 'NR == 2 { print $8 }'
}

row() { # LABEL PRB PERFTEST UNIT HIGHER_IS_BETTER
	local ratio
	ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
	rows+=("$(printf '%-34s %12s %12s %6s %8s' "$1" "$2" "$3" "$4" "$ratio")")
}

export -f prb_bw
run_prb() {
	RDMA_URL=$(grep ^rdma: "$PRB_POOL_DIR/ready")
	export RDMA_URL
	echo "read 2M $(prb_bw --size 2M --qd 4)" >>/tmp/prb-results
	echo "write 2M $(prb_bw --size 2M --qd 4 --write)" >>/tmp/prb-results
	echo "read 4K $(prb_bw --size 4K --qd 32)" >>/tmp/prb-results
	echo "write 4K $(prb_bw --size 4K --qd 32 --write)" >>/tmp/prb-results
	echo "lat 8 $("$lat" "$RDMA_URL" 8 2000 | awk 'NR == 2 { print $5 }')" >>/tmp/prb-results
}
export -f run_prb
export prb lat secs

rm -f /tmp/prb-results
"$src/scripts/with-target.sh" --listen rdma://10.0.0.1:0 -- bash -c run_prb || {
	echo "run-bench: prb runs failed"
	exit 1
}
prb_result() { awk -v a="$1" -v b="$2" '$1 == a && $2 == b { print $3 }' /tmp/prb-results; }

row "READ 2 MiB, 4 in flight (MB/s)" "$(prb_result read 2M)" \
	"$(perftest_bw ib_read_bw -s 2097152 -t 4 -D "$secs")" MB/s
row "WRITE 2 MiB, 4 in flight (MB/s)" "$(prb_result write 2M)" \
	"$(perftest_bw ib_write_bw -s 2097152 -t 4 -D "$secs")" MB/s
row "READ 4 KiB, 32 in flight (MB/s)" "$(prb_result read 4K)" \
	"$(perftest_bw ib_read_bw -s 4096 -t 32 -D "$secs")" MB/s
row "WRITE 4 KiB, 32 in flight (MB/s)" "$(prb_result write 4K)" \
	"$(perftest_bw ib_write_bw -s 4096 -t 32 -D "$secs")" MB/s
row "READ 8 B latency, typical (us)" "$(prb_result lat 8)" "$(perftest_lat -s 8 -n 2000)" us

printf '%-34s %12s %12s %6s %8s\n' "measure" "prb" "perftest" "unit" "ratio"
printf '%s\n' "${rows[@]}"
