#!/bin/sh
# A third party's view of libprb: install the project into a temporary prefix,
# build examples/ as an outside project with find_package(prb), build hello.c
# again with pkg-config, check the installed files, and run the external build.
#   install_test.sh BUILD_DIR SOURCE_DIR C_COMPILER [C_FLAGS]
# Runs under scripts/with-target.sh (PRB_URL) so the installed library is used for real.
set -eu
build=$1 src=$2 cc=$3 flags=${4-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prb-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# 0. A whole install (every component, the dissector's included) stays under its prefix,
#    as a packager's staged install must.
cmake --install "$build" --prefix "$tmp/all" >"$tmp/install-all.log"
installed=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$tmp/install-all.log")
[ -n "$installed" ] || { echo "install_test: cmake --install listed no files" >&2; exit 1; }
outside=$(printf '%s\n' "$installed" | grep -v "^$tmp/all/" || true)
if [ -n "$outside" ]; then
	printf 'install_test: installed outside the prefix:\n%s\n' "$outside" >&2
	exit 1
fi
if [ -e "$build/dissector" ] && ! find "$tmp/all" -path '*/wireshark/plugins/*/epan/prb.so' | grep -q .; then
	echo "install_test: the dissector was built but not installed under the prefix" >&2
	exit 1
fi
for f in bin/prb-target share/man/man8/prb-target.8 bin/prb-conformance \
	share/man/man1/prb-conformance.1; do
	[ -e "$tmp/all/$f" ] || { echo "install_test: $f not installed" >&2; exit 1; }
done

for component in prbwire prb; do
	cmake --install "$build" --prefix "$prefix" --component $component >>"$tmp/install.log"
done
for f in include/prb/prb.h include/prb/wire.h bin/prb share/man/man1/prb.1; do
	[ -e "$prefix/$f" ] || { echo "install_test: $f not installed" >&2; exit 1; }
done
libdir=$(cd "$(dirname "$(find "$prefix" -name prb.pc | head -n 1)")/.." && pwd)
[ -e "$libdir/libprb.so" ] && [ -e "$libdir/libprb.a" ] ||
	{ echo "install_test: libprb.so/libprb.a not in $libdir" >&2; exit 1; }
[ -e "$libdir/cmake/prb/prbConfig.cmake" ] || { echo "install_test: no prbConfig.cmake" >&2; exit 1; }

# 1. CMake: find_package(prb) from an outside project.
cmake -S "$src/examples" -B "$tmp/ext" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
	>"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/ext" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }

# 2. pkg-config, shared and static.
# Both .pc files are relocatable (prefix from ${pcfiledir}).
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pc() { pkg-config "$@"; }
# shellcheck disable=SC2046,SC2086 # word splitting of flags is wanted
"$cc" $flags -std=c11 $(pc --cflags prb) "$src/examples/hello.c" -o "$tmp/hello_pc" \
	$(pc --libs prb) -Wl,-rpath,"$libdir"
# shellcheck disable=SC2046,SC2086
"$cc" $flags -std=c11 $(pc --cflags prb) "$src/examples/hello.c" -o "$tmp/hello_static" \
	"$libdir/libprb.a" "$libdir/libprbwire.a" \
	$(pc --static --libs prb | sed 's/-lprb\b//; s/-lprbwire\b//')
if ldd "$tmp/hello_static" | grep -q 'libprb'; then
	echo "install_test: static build still links libprb.so" >&2
	exit 1
fi

# 3. Run all three against the brick.
for exe in "$tmp/ext/prb_hello" "$tmp/hello_pc" "$tmp/hello_static"; do
	out=$("$exe" "$PRB_URL")
	echo "$out"
	echo "$out" | grep -q "read back: hello, brick (ok)" ||
		{ echo "install_test: $exe did not read back its data" >&2; exit 1; }
done
echo "install_test: ok"
