#!/bin/sh
# Run prb-conformance against a prb-target started on a fresh pool by scripts/with-target.sh,
# with the restart hooks with-target.sh provides (kill -9 and restart; SIGTERM and restart).
#
#   run-suite.sh WITH-TARGET PRB-CONFORMANCE [TARGET-ARGS...] -- [SUITE-ARGS...]
#
# The target is ${PRB_TARGET} (see with-target.sh). Exit status: the suite's (or
# with-target.sh's when the target could not start or died abnormally).
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 WITH-TARGET PRB-CONFORMANCE [TARGET-ARGS...] -- [SUITE-ARGS...]" >&2
	exit 2
fi
with_target=$1
conformance=$2
shift 2
# Split TARGET-ARGS from SUITE-ARGS: rotate the target's to the front of a new list.
n=$#
target_count=0
for arg in "$@"; do
	[ "$arg" = "--" ] && break
	target_count=$((target_count + 1))
done
[ "$target_count" -lt "$n" ] || { echo "$0: missing --" >&2; exit 2; }
# shellcheck disable=SC2016 # expanded by the inner shell, where with-target.sh exports them
inner='exec "$0" --restart-cmd "$PRB_RESTART_CMD" --graceful-restart-cmd "$PRB_RESTART_CMD --signal TERM" "$@" "$PRB_URL"'
i=0
for arg in "$@"; do
	shift
	i=$((i + 1))
	if [ "$i" -le "$target_count" ]; then
		set -- "$@" "$arg"
	elif [ "$i" -eq "$((target_count + 1))" ]; then
		set -- "$@" -- sh -c "$inner" "$conformance"
	else
		set -- "$@" "$arg"
	fi
done
exec "$with_target" "$@"
