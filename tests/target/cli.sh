#!/bin/bash
# prb-target's command line: --help, --version, exit codes, the default pool, ready file
# with several listeners (IPv4 and IPv6 loopback), SIGINT. Usage: cli.sh PRB-TARGET
set -u
target=$(readlink -f "$1")
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A target that falls back to its default pool must not leave ./prb-data behind.
cd "$tmp" || exit 1

check() {  # check DESCRIPTION CONDITION...
	local what=$1
	shift
	if "$@"; then
		echo "ok   $what"
	else
		echo "FAIL $what"
		fails=$((fails + 1))
	fi
}

# wait_ready FILE PID: the ready file appears while the target runs.
wait_ready() {
	for _ in $(seq 600); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

out=$("$target" --help)
check "--help exits 0" test $? -eq 0
check "--help documents the exit status" grep -q "Exit status" <<<"$out"
check "--help lists --listen and --ready-file" grep -q -- "--ready-file" <<<"$out"
out=$("$target" --version)
check "--version exits 0 and names the protocol version" grep -q "protocol version 1" <<<"$out"
"$target" --bogus >/dev/null 2>&1
check "unknown option: exit 2" test $? -eq 2
"$target" --size 12Q >/dev/null 2>&1
check "bad SIZE: exit 2" test $? -eq 2
"$target" --queue-depth 0 >/dev/null 2>&1
check "queue depth 0: exit 2" test $? -eq 2
"$target" --listen ftp://x >/dev/null 2>&1
check "bad URL: exit 2" test $? -eq 2
"$target" --pool "$tmp/no/such/dir/pool" --size 16M --listen tcp://127.0.0.1:0 >/dev/null 2>&1
check "pool in a missing folder: exit 1" test $? -eq 1

# No --pool: ./prb-data/pool of 1 GiB is created in the working folder.
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && exec "$target" --listen tcp://127.0.0.1:0 --ready-file ready 2>/dev/null) &
pid=$!
check "default pool: target ready" wait_ready "$tmp/cwd/ready" $pid
check "default pool: ./prb-data/pool of 1 GiB" \
	test "$(stat -c %s "$tmp/cwd/prb-data/pool" 2>/dev/null)" = 1073741824
kill -INT $pid
wait $pid
check "SIGINT: clean exit 0" test $? -eq 0

# Two listeners, IPv4 and IPv6 loopback: one ready line each, both serve.
"$target" --pool "$tmp/pool" --size 16M --listen tcp://127.0.0.1:0 --listen 'tcp://[::1]:0' \
	--ready-file "$tmp/ready" 2>/dev/null &
pid=$!
check "two listeners: target ready" wait_ready "$tmp/ready" $pid
check "ready file: one URL per listener" test "$(wc -l <"$tmp/ready")" -eq 2
check "ready file: IPv4 URL" grep -qE '^tcp://127\.0\.0\.1:[0-9]+$' "$tmp/ready"
check "ready file: IPv6 URL" grep -qE '^tcp://\[::1\]:[0-9]+$' "$tmp/ready"
for url in $(cat "$tmp/ready"); do
	port=${url##*:}
	host=${url#tcp://}
	host=${host%:*}
	host=${host#[}
	host=${host%]}
	check "connect to $url" timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port"
done
kill -TERM $pid
wait $pid
check "SIGTERM: clean exit 0" test $? -eq 0

echo "cli.sh: $fails failure(s)"
[ "$fails" -eq 0 ]
