#!/bin/sh
# What a new user does with docs/GUIDE.md, as a test: install this build into
# a temporary prefix, build examples/checksum against the installed copy
# only (a copy of its sources, away from this tree) with pkg-config and with
# find_package(bulkhead), shared and static, run each build on a few files
# and compare its answer with sha256sum's.
#
# usage: test_install.sh <cmake> <build-dir> <source-dir> <libdir> [extra C flags]
#   libdir:      CMAKE_INSTALL_LIBDIR (lib, or lib/<multiarch> for /usr)
#   extra flags: what a sanitized libbulkhead needs in its users too
set -eu

cmake=$1
build=$2
source=$3
libdir=$4
extra=${5:-}
jobs=2

for tool in make cc pkg-config protoc-c sha256sum readelf; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found" >&2
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bh-install.XXXXXX")
cleanup() {
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix
step() {
	echo "--- $*"
}
die() {
	echo "FAIL: $*" >&2
	exit 1
}
# Runs a command quietly; shows its output only if it fails.
quiet() {
	log=$tmp/last.log
	if ! "$@" > "$log" 2>&1; then
		cat "$log" >&2
		die "$*"
	fi
}

step "install into $prefix"
quiet "$cmake" --install "$build" --prefix "$prefix"
for f in "$libdir/libbulkhead.so.0" "$libdir/libbulkhead.a" "$libdir/pkgconfig/bulkhead.pc" \
	"$libdir/cmake/bulkhead/bulkheadConfig.cmake" "$libdir/cmake/bulkhead/bulkheadConfigVersion.cmake" \
	"$libdir/cmake/bulkhead/BulkheadProto.cmake" include/bulkhead/bulkhead.h \
	include/bulkhead/version.h include/bulkhead.pb-c.h share/bulkhead/proto/bulkhead.proto \
	bin/bulkhead-run bin/bulkhead-dump; do
	[ -e "$prefix/$f" ] || die "not installed: $f"
done

# Only the installed copy may be used from here on: a copy of the example,
# and nothing from this source or build tree on any path.
cp -R "$source/examples/checksum" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.o "$tmp/src"/checksum.pb-c.* "$tmp/src/checksum"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

step "pkg-config"
version=$(pkg-config --modversion bulkhead)
want=$(sed -n 's/^#define BH_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/bulkhead/version.h")
[ "$version" = "$want" ] || die "pkg-config says version '$version', version.h says '$want'"
case " $(pkg-config --cflags bulkhead) " in
*" -I$prefix/include "*) ;;
*) die "pkg-config --cflags bulkhead lacks -I$prefix/include: $(pkg-config --cflags bulkhead)" ;;
esac
static_libs=" $(pkg-config --static --libs bulkhead) "
for l in -lbulkhead -lprotobuf-c -lseccomp -lcap; do
	case "$static_libs" in
	*" $l "*) ;;
	*) die "pkg-config --static --libs bulkhead lacks $l:$static_libs" ;;
	esac
done

step "every installed header compiles on its own (C11 -pedantic, and C++)"
for h in "$prefix"/include/bulkhead/*.h; do
	name=bulkhead/$(basename "$h")
	printf '#include <%s>\nint bh_test_header_anchor;\n' "$name" > "$tmp/header.c"
	# shellcheck disable=SC2046
	quiet cc -std=c11 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags bulkhead) \
		-c "$tmp/header.c" -o "$tmp/header.o"
	if command -v c++ >/dev/null; then
		cp "$tmp/header.c" "$tmp/header.cc"
		# shellcheck disable=SC2046
		quiet c++ -Wall -Wextra -Werror $(pkg-config --cflags bulkhead) -c "$tmp/header.cc" -o "$tmp/header.o"
	fi
done

step "make (pkg-config), shared and static"
mkdir "$tmp/make-shared" "$tmp/make-static"
quiet env CFLAGS="-O1 -g $extra" LDFLAGS="$extra" make -C "$tmp/make-shared" -f "$tmp/src/Makefile" -j$jobs
quiet env CFLAGS="-O1 -g $extra" LDFLAGS="$extra" make -C "$tmp/make-static" -f "$tmp/src/Makefile" -j$jobs STATIC=1

step "cmake (find_package), shared and static"
for kind in shared static; do
	static=OFF
	[ "$kind" = static ] && static=ON
	quiet "$cmake" -S "$tmp/src" -B "$tmp/cmake-$kind" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCHECKSUM_STATIC=$static -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra"
	found=$(sed -n 's/^bulkhead_DIR:PATH=//p' "$tmp/cmake-$kind/CMakeCache.txt")
	[ "$found" = "$prefix/$libdir/cmake/bulkhead" ] || die "find_package(bulkhead) found '$found'"
	quiet "$cmake" --build "$tmp/cmake-$kind" -j $jobs
done

for kind in shared static; do
	for b in make cmake; do
		needed=$(readelf -d "$tmp/$b-$kind/checksum" | grep -c 'NEEDED.*libbulkhead' || true)
		if [ "$kind" = shared ] && [ "$needed" -ne 1 ]; then
			die "$b-$kind/checksum does not link libbulkhead.so"
		fi
		if [ "$kind" = static ] && [ "$needed" -ne 0 ]; then
			die "$b-$kind/checksum links libbulkhead.so, not libbulkhead.a"
		fi
	done
done

step "run"
# Sizes around SHA-256's 64-byte blocks and its 56-byte padding edge, an
# empty file, and one big enough to take several slices in the worker.
mkdir "$tmp/in"
: > "$tmp/in/empty"
printf abc > "$tmp/in/abc"
for n in 55 56 63 64 65 1000; do
	head -c $n /dev/zero | tr '\0' 'x' > "$tmp/in/x$n"
done
i=0
while [ $i -lt 20 ]; do
	cat "$source/proto/bulkhead.proto"
	i=$((i + 1))
done > "$tmp/in/proto20"
head -c 9000000 /dev/urandom > "$tmp/in/random"
cd "$tmp/in"
files="empty abc x55 x56 x63 x64 x65 x1000 proto20 random"
# shellcheck disable=SC2086
sha256sum $files > "$tmp/want"

# The pkg-config builds have no run path: like a user after `cmake --install`
# into a prefix the loader does not search, they need LD_LIBRARY_PATH.
export LD_LIBRARY_PATH="$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for b in make-shared make-static cmake-shared cmake-static; do
	# shellcheck disable=SC2086
	if ! "$tmp/$b/checksum" -j 3 $files > "$tmp/got" 2> "$tmp/err"; then
		cat "$tmp/err" >&2
		die "$b/checksum failed"
	fi
	if ! cmp -s "$tmp/want" "$tmp/got"; then
		diff "$tmp/want" "$tmp/got" >&2 || true
		die "$b/checksum disagrees with sha256sum"
	fi
	[ -s "$tmp/err" ] && { cat "$tmp/err" >&2; die "$b/checksum wrote to stderr"; }
	echo "$b: ok"
done

step "restart after a sandbox kill"
# shellcheck disable=SC2086
"$tmp/cmake-shared/checksum" -j 1 --misbehave $files > "$tmp/got" 2> "$tmp/err" ||
	{ cat "$tmp/err" >&2; die "checksum --misbehave failed"; }
cmp -s "$tmp/want" "$tmp/got" || die "checksum --misbehave disagrees with sha256sum"
grep -q 'sandbox.*socket.*restarting' "$tmp/err" ||
	{ cat "$tmp/err" >&2; die "the sandbox kill was not reported with its system call"; }

step "errors"
if "$tmp/cmake-shared/checksum" "$tmp/in/no-such-file" > /dev/null 2> "$tmp/err"; then
	die "a missing file did not fail"
fi
grep -q 'no-such-file: No such file or directory' "$tmp/err" || { cat "$tmp/err" >&2; die "missing-file message"; }
# Without the prefix on PKG_CONFIG_PATH the Makefile says what to do (unless
# another bulkhead is installed system-wide).
if ! env -u PKG_CONFIG_PATH pkg-config --exists bulkhead 2>/dev/null; then
	mkdir "$tmp/make-nopc"
	if env -u PKG_CONFIG_PATH make -C "$tmp/make-nopc" -f "$tmp/src/Makefile" > "$tmp/err" 2>&1; then
		die "make without bulkhead.pc succeeded"
	fi
	grep -q 'bulkhead not found by pkg-config.*PKG_CONFIG_PATH' "$tmp/err" || { cat "$tmp/err" >&2; die "make error message"; }
fi
echo "ok"
