#!/bin/bash
# Run a command against a prb-target started on a fresh temporary pool.
#
#   scripts/with-target.sh [TARGET-ARGS...] -- CMD [ARGS...]
#   scripts/with-target.sh --restart [--signal KILL|TERM]     (from inside CMD)
#
# Starts ${PRB_TARGET:-build/ref-target/prb-target} with
#   --pool $PRB_POOL_DIR/pool --size ${PRB_POOL_SIZE:-256M}
#   --listen tcp://127.0.0.1:0 --ready-file $PRB_POOL_DIR/ready  TARGET-ARGS...
# (TARGET-ARGS come last: a --size or --pool there wins; @POOL_DIR@ in them becomes the
# temporary folder, e.g. --tier @POOL_DIR@/tier), waits until the ready file
# appears, then runs CMD with these variables exported:
#   PRB_URL         the first URL of the ready file (tcp://127.0.0.1:PORT)
#   PRB_TARGET_PID  the target's pid (after a --restart: read $PRB_POOL_DIR/target.pid)
#   PRB_POOL_DIR    the temporary folder holding the pool, the ready file, target.pid
#                   and urls (the ready file of the first start)
#   PRB_RESTART_CMD a command that kills the target (SIGKILL, or --signal TERM) and
#                   starts it again on the same pool and the same URLs: every listener
#                   of the ready file (tcp:// and rdma:// alike, port 0 ones included)
#                   listens again on the address and port it got at the first start; the
#                   restart fails (status 125, both URL lists on stderr) when the new
#                   ready file lists other URLs
# Then it stops the target with SIGTERM and exits with CMD's status; nonzero as well when
# the target died abnormally (signal, nonzero exit, or no exit within the stop timeout).
# Environment: PRB_TARGET, PRB_POOL_SIZE, PRB_START_TIMEOUT (s, 30), PRB_STOP_TIMEOUT (s, 30),
# PRB_KEEP_POOL=1 keeps the folder.
set -u

me=$(readlink -f "$0")
target=${PRB_TARGET:-build/ref-target/prb-target}
start_timeout=${PRB_START_TIMEOUT:-30}
stop_timeout=${PRB_STOP_TIMEOUT:-30}

die() {
	echo "with-target: $*" >&2
	exit 125
}

# start_target DIR: start the target with the arguments saved in DIR/args (NUL-separated),
# wait for DIR/ready, write DIR/target.pid.
start_target() {
	local dir=$1 args=() i
	while IFS= read -r -d '' i; do args+=("$i"); done <"$dir/args"
	rm -f "$dir/ready"
	"$target" "${args[@]}" </dev/null >&2 &
	local pid=$!
	echo "$pid" >"$dir/target.pid"
	local deadline=$((SECONDS + start_timeout))
	while [ ! -s "$dir/ready" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			die "prb-target exited (status $?) before it was ready: $target ${args[*]}"
		fi
		[ "$SECONDS" -lt "$deadline" ] || { kill -KILL "$pid"; die "prb-target not ready after ${start_timeout}s"; }
		sleep 0.02
	done
}

# pin_listeners DIR: rewrite DIR/args for restarts: every --listen URL (or --listen=URL)
# goes, and each URL of DIR/urls (the first start's ready file, in its order) comes at the
# end as a --listen, so a port-0 listener gets back the port it got. The ready file, not
# the --listen count, decides: it has one line per socket the target opened.
pin_listeners() {
	local dir=$1 args=() i skip=0 line
	while IFS= read -r -d '' i; do
		if [ "$skip" = 1 ]; then
			skip=0
		elif [ "$i" = --listen ]; then
			skip=1
		elif [ "${i#--listen=}" = "$i" ]; then
			args+=("$i")
		fi
	done <"$dir/args"
	while IFS= read -r line; do
		[ -n "$line" ] && args+=(--listen "$line")
	done <"$dir/urls"
	printf '%s\0' "${args[@]}" >"$dir/args"
}

# stop_target PID SIGNAL: signal it and wait; prints nothing, returns its exit status
# (128+N for a signal, 124 when it did not exit in time).
stop_target() {
	local pid=$1 sig=$2 deadline=$((SECONDS + stop_timeout))
	kill "-$sig" "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		# A zombie of ours answers kill -0: wait reaps it once it has exited.
		if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ]; then
			break
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
		sleep 0.02
	done
	wait "$pid" 2>/dev/null
}

if [ "${1-}" = "--restart" ]; then
	shift
	sig=KILL
	if [ "${1-}" = "--signal" ]; then
		sig=${2:?--signal needs KILL or TERM}
		shift 2
	fi
	dir=${PRB_POOL_DIR:?--restart runs inside with-target.sh (PRB_POOL_DIR unset)}
	pid=$(cat "$dir/target.pid")
	# The restarted target is not our child: wait for it by polling.
	kill "-$sig" "$pid" 2>/dev/null
	deadline=$((SECONDS + stop_timeout))
	while kill -0 "$pid" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || die "prb-target $pid did not exit on SIG$sig"
		sleep 0.02
	done
	# The arguments name every URL the first start got: initiators reconnect to the same place.
	start_target "$dir"
	if ! cmp -s "$dir/urls" "$dir/ready"; then
		{
			echo "with-target: the restarted prb-target listens elsewhere; first start:"
			sed 's/^/  /' "$dir/urls"
			echo "after the restart:"
			sed 's/^/  /' "$dir/ready"
		} >&2
		die "restart did not keep the listeners' URLs"
	fi
	# Detach: the new target outlives this script; the outer with-target stops it.
	disown -a
	exit 0
fi

target_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	target_args+=("$1")
	shift
done
[ "${1-}" = "--" ] || die "usage: with-target.sh [TARGET-ARGS...] -- CMD [ARGS...]"
shift
[ $# -gt 0 ] || die "usage: with-target.sh [TARGET-ARGS...] -- CMD [ARGS...]"
[ -x "$target" ] || die "no prb-target at $target (set PRB_TARGET)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/prb-target.XXXXXX") || die "mktemp failed"
cleanup() {
	if [ "${PRB_KEEP_POOL-0}" = 1 ]; then
		echo "with-target: pool kept in $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
for i in "${!target_args[@]}"; do
	target_args[$i]=${target_args[$i]//@POOL_DIR@/$dir}
done

printf '%s\0' --pool "$dir/pool" --size "${PRB_POOL_SIZE:-256M}" \
	--listen tcp://127.0.0.1:0 --ready-file "$dir/ready" "${target_args[@]}" >"$dir/args"
start_target "$dir"
url=$(head -n 1 "$dir/ready")
cp "$dir/ready" "$dir/urls"
pin_listeners "$dir"

PRB_URL=$url PRB_TARGET_PID=$(cat "$dir/target.pid") PRB_POOL_DIR=$dir \
	PRB_RESTART_CMD="$me --restart" "$@"
status=$?

pid=$(cat "$dir/target.pid")
target_status=0
if [ "$pid" = "$(jobs -p | head -n 1)" ]; then
	stop_target "$pid" TERM
	target_status=$?
else
	# Restarted from inside CMD: not our child, so its exit status is out of reach.
	kill -TERM "$pid" 2>/dev/null
	deadline=$((SECONDS + stop_timeout))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null
			target_status=124
			break
		fi
		sleep 0.02
	done
fi
if [ "$target_status" -ne 0 ]; then
	echo "with-target: prb-target ended abnormally (status $target_status)" >&2
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"
