#!/bin/bash
# The main job: install what is needed, build, start a brick on a file-backed pool in
# ./prb-data (the embedded default), and run an initiator session against it.
#   scripts/run.sh          leaves the brick serving on tcp://localhost:7117 until Ctrl-C
#   scripts/run.sh --once   stops the brick after the session
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1-}" = "--once" ] && once=1
if [ "$(id -u)" -eq 0 ]; then
	scripts/install-deps.sh
else
	echo "run.sh: not root: skipping the package install (run scripts/install-deps.sh as root once)"
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

target=build/ref-target/prb-target
prb=build/ref-initiator/tools/prb
ready=$(mktemp)
trap 'rm -f "$ready"; [ -n "${pid-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null' EXIT
rm -f "$ready"
"$target" --ready-file "$ready" &
pid=$!
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || { echo "run.sh: prb-target did not start" >&2; exit 1; }
url=tcp://localhost:7117
echo "== brick up: $(tr '\n' ' ' <"$ready")"

session() { echo "\$ prb $*"; "$prb" "$@"; }
session info "$url"
"$prb" free "$url" 0x40000000 --count 4 --force >/dev/null 2>&1 || true
session alloc "$url" 0x40000000 --count 4
session free "$url" 0x40000000 --count 4
demo=$(mktemp); back=$(mktemp)
head -c 3000000 /dev/urandom >"$demo"
session put "$url" 0x80000000 "$demo"
session get "$url" 0x80000000 "$back"
cmp "$demo" "$back" && echo "== put/get round trip: 3000000 bytes identical"
session list "$url"
rm -f "$demo" "$back"
if [ "$once" = 1 ]; then
	exit 0
fi
echo "== brick serving on $url (pool ./prb-data/pool); Ctrl-C stops it"
wait "$pid"
