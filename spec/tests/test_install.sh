#!/bin/sh
# Install the prbwire component into a scratch prefix and build a third-party program
# against it with pkg-config alone, statically and dynamically; run both.
# Usage: test_install.sh BUILD_DIR CC [EXTRA_CFLAGS...]
set -eu
build=$1
cc=$2
shift 2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --component prbwire --prefix "$prefix" >/dev/null
for f in include/prb/wire.h include/prb/wire_helpers.h share/prb/prb-vectors.txt; do
	[ -f "$prefix/$f" ] || { echo "test_install: $f not installed" >&2; exit 1; }
done
pcdir=$(dirname "$(find "$prefix" -name prbwire.pc)")
export PKG_CONFIG_PATH="$pcdir"
cat >"$prefix/brick.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <prb/wire.h>

int main(void)
{
	struct prb_alloc_req req = {.hdr = {.tag = 7}, .addr = 4 * PRB_BLOCK_SIZE, .blocks = 2};
	struct prb_alloc_req out;
	unsigned char buf[PRB_ALLOC_REQ_SIZE];

	if (prb_alloc_req_encode(&req, buf, sizeof(buf)) != (int)sizeof(buf))
		return 1;
	if (prb_alloc_req_decode(buf, sizeof(buf), &out, NULL) != 0 || out.blocks != 2)
		return 2;
	if (prb_crc32c("123456789", 9) != 0xE3069283U)
		return 3;
	printf("third-party program: %s ok\n", prb_opcode_name(PRB_OP_ALLOC));
	return 0;
}
C
# shellcheck disable=SC2046 # pkg-config prints words
"$cc" -std=c11 -Wall -Werror "$@" -o "$prefix/brick-static" "$prefix/brick.c" \
	$(pkg-config --cflags prbwire) "$(find "$prefix" -name libprbwire.a)" \
	$(pkg-config --static --libs-only-l prbwire | sed 's/-lprbwire//')
"$prefix/brick-static"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror "$@" -o "$prefix/brick-shared" "$prefix/brick.c" \
	$(pkg-config --cflags --libs prbwire)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir prbwire)" "$prefix/brick-shared"
