#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The RDMA test set, run inside the Soft-RoCE VM in one boot:
#   scripts/rxe-vm.sh -C BUILD tests/rdma/run-rdma-tests.sh BUILD     (CTest: rdma-vm)
# Brick on rxe0 (rdma://10.0.0.1), initiators through rxe1 (10.0.0.2): every capsule and
# one-sided operation crosses the veth pair as RoCEv2.
#   probe        device facts the binding relies on (tests/rdma/rdma-probe)
#   ops          every libprb operation over rdma://, one-sided check, revocation
#   raw          the brick's binding from raw verbs (refusals, capsules, keys, hostile
#                initiators, the connection limit, a crash with a live mapping through
#                PRB_RESTART_CMD)
#   regions      raw again with one memory region per mapping (no windows)
#   tool         prb put/get round trip and a short prb bench over rdma://
#   conformance  prb-conformance with the rdma:// URL, --destructive, and the restart tests
#                (with-target.sh restarts the brick on the same rdma:// URL); fails when
#                a restart test did not run
#   capture      a RoCEv2 capture of a prb session (dumpcap on veth1, UDP 4791)
#                -> BUILD/tests/rdma/prb-roce.pcapng for the dissector's test
# Exit status: 0 when every step passed.
set -u
build=$(cd "${1:?usage: run-rdma-tests.sh BUILD}" && pwd)
src=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
export PRB_TARGET=$build/ref-target/prb-target
export T=$build/tests/rdma PRB=$build/ref-initiator/tools/prb
with_target=$src/scripts/with-target.sh
listen="--listen rdma://10.0.0.1:0"
failed=()

step() {
	local name=$1 start=$SECONDS
	shift
	echo "=== $name"
	if "$@"; then
		echo "--- PASS $name ($((SECONDS - start)) s)"
	else
		echo "--- FAIL $name ($((SECONDS - start)) s)"
		failed+=("$name")
	fi
}

# Run CMD (a bash -c script) against a fresh brick; RDMA_URL is its rdma:// URL.
on_brick() {
	"$with_target" $listen "$@" -- bash -c 'export RDMA_URL=$(grep ^rdma: "$PRB_POOL_DIR/ready"); eval "$0"' "$CMD"
}

run_tool() {
	head -c 3000000 /dev/urandom >/tmp/prb-put.bin
	"$PRB" put "$RDMA_URL" 0x40000000 /tmp/prb-put.bin &&
		"$PRB" get "$RDMA_URL" 0x40000000 /tmp/prb-get.bin &&
		cmp /tmp/prb-put.bin /tmp/prb-get.bin &&
		"$PRB" bench "$RDMA_URL" --time 1 --size 64K --qd 4 &&
		"$PRB" bench "$RDMA_URL" --write --time 1 --size 4K --qd 8 &&
		"$PRB" bench "$RDMA_URL" --time 1 --size 4K --qd 8 --rdma-spin forever
}
export -f run_tool

# The suite over rdma://, crash and clean restarts included: with-target.sh's restart
# brings the rdma:// listener back on its port. Tests that need the raw TCP sender print
# [SKIPPED] with that reason; checks a test cannot make over rdma:// print "not checked
# here". A restart test that did not run (skipped or missing) fails the step.
run_conformance() {
	local cf=$build/conformance/prb-conformance xml=$T/conformance-rdma.xml
	[ -x "$cf" ] || { echo "prb-conformance not built"; return 1; }
	rm -f "$xml"
	"$cf" --xml "$xml" --destructive --restart-cmd "$PRB_RESTART_CMD" \
		--graceful-restart-cmd "$PRB_RESTART_CMD --signal TERM" "$RDMA_URL" || return 1
	python3 "$src/tests/rdma/restart-tests-ran.py" "$cf" "$xml"
}
export -f run_conformance
export build src

# A short prb session captured on the wire: HELLO, MAP, one-sided READ/WRITE, UNMAP.
run_capture() {
	local pcap=$T/prb-roce.pcapng pid n
	rm -f "$pcap"
	dumpcap -q -i veth1 -f "udp port 4791" -w "$pcap" 2>/tmp/dumpcap.log &
	pid=$!
	# dumpcap writes the file header once it captures: wait for it (slow to start under TCG)
	for _ in $(seq 100); do
		[ -s "$pcap" ] && break
		sleep 0.2
	done
	sleep 0.5
	"$PRB" info "$RDMA_URL" >/dev/null && "$PRB" alloc "$RDMA_URL" 0x80000000 >/dev/null &&
		"$PRB" bench "$RDMA_URL" --count 16 --size 4K --qd 1 --addr 0x80000000 >/dev/null &&
		"$PRB" list "$RDMA_URL" >/dev/null
	local rc=$?
	sleep 1
	kill -INT "$pid"
	wait "$pid"
	n=$(capinfos -M -c "$pcap" 2>/dev/null | awk '/Number of packets/ { print $NF }')
	echo "captured $n RoCEv2 packets in $pcap"
	[ "$rc" = 0 ] && [ "${n:-0}" -gt 20 ]
}
export -f run_capture

step probe "$T/rdma-probe" -f /tmp/rdma-probe-pool
CMD='"$T/test_rdma_ops" "$RDMA_URL"' step ops on_brick
# test_rdma_raw's arguments after the URL are the brick's options: it fills the brick to
# --max-connections, waits for --send-timeout and --hello-timeout (seconds)
raw_opts="--max-connections 4 --send-timeout 2 --hello-timeout 3"
CMD='"$T/test_rdma_raw" "$RDMA_URL" 4 2 3' step raw on_brick $raw_opts
CMD='"$T/test_rdma_raw" "$RDMA_URL" 4 2 3' step regions on_brick --rdma-keys mr $raw_opts
CMD='run_tool' step tool on_brick
CMD='run_conformance' step conformance on_brick
CMD='run_capture' step capture on_brick

if [ ${#failed[@]} -gt 0 ]; then
	echo "RDMA tests FAILED: ${failed[*]}"
	exit 1
fi
echo "RDMA tests passed"
