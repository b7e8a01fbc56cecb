#!/bin/sh
# ABI hygiene of libbulkhead (issue 9):
#  1. libbulkhead.so exports only bh_ symbols: the public API, and the bh__*
#     protobuf-c descriptors and helpers generated from bulkhead.proto.
#  2. Every exported bh_ function is declared in a public header, and every
#     BH_EXPORT declaration in a public header is really exported.
#  3. libbulkhead.a defines no global symbol outside bh_ (static links share
#     one namespace with the application).
#  4. The library neither prints nor exits: it references no exit(), no
#     stdout/stderr and no printf-style call that writes to them.
#
# usage: test_symbols.sh <libbulkhead.so> <libbulkhead.a> <include-dir>...
set -u

so=$1
ar=$2
shift 2
status=0
fail() {
	echo "FAIL: $*" >&2
	status=1
}

for tool in nm awk sed grep sort; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not found" >&2; exit 77; }
done
[ -f "$so" ] || { echo "FAIL: $so not found" >&2; exit 1; }
[ -f "$ar" ] || { echo "FAIL: $ar not found" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bh-symbols.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# --- 1. exported names -------------------------------------------------------
# nm -D prints "addr type name@@VERSION"; the version node itself is an "A" symbol.
nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u > "$tmp/exported"
[ -s "$tmp/exported" ] || fail "nm found no exported symbol in $so"
grep -v '^bh_' "$tmp/exported" > "$tmp/foreign"
if [ -s "$tmp/foreign" ]; then
	fail "exported symbols outside bh_:"
	sed 's/^/  /' "$tmp/foreign" >&2
fi
# bh__ is the internal prefix; only protoc-c's generated names may carry it out.
grep '^bh__' "$tmp/exported" |
	grep -Ev '^bh__[a-z0-9_]+__(descriptor|init|get_packed_size|pack|pack_to_buffer|unpack|free_unpacked)$' \
	> "$tmp/internal"
if [ -s "$tmp/internal" ]; then
	fail "internal bh__ helpers exported:"
	sed 's/^/  /' "$tmp/internal" >&2
fi

# --- 2. exports match the headers -----------------------------------------------
for dir in "$@"; do
	cat "$dir"/*.h
done > "$tmp/headers"
grep 'BH_EXPORT' "$tmp/headers" | grep -v '^#define' |
	sed -nE 's/^.*[ *](bh_[a-z0-9_]+)\(.*$/\1/p' | sort -u > "$tmp/declared"
grep '^bh_[a-z]' "$tmp/exported" > "$tmp/api"
comm -13 "$tmp/declared" "$tmp/api" > "$tmp/undeclared"
if [ -s "$tmp/undeclared" ]; then
	fail "exported but not declared BH_EXPORT in a public header:"
	sed 's/^/  /' "$tmp/undeclared" >&2
fi
comm -23 "$tmp/declared" "$tmp/api" > "$tmp/missing"
if [ -s "$tmp/missing" ]; then
	fail "declared BH_EXPORT in a public header but not exported (missing definition?):"
	sed 's/^/  /' "$tmp/missing" >&2
fi

# --- 3. the static library's namespace ----------------------------------------
# Sanitized builds add the instrumentation's own __odr_asan.* markers and may
# define sanitizer hooks (__lsan_is_turned_off); those are meant to be global.
nm -g --defined-only "$ar" 2>/dev/null | awk 'NF == 3 { print $3 }' |
	grep -Ev '^(bh_|__odr_asan|__(asan|lsan|ubsan|sanitizer)_)' | sort -u > "$tmp/static"
if [ -s "$tmp/static" ]; then
	fail "global symbols outside bh_ in $ar:"
	sed 's/^/  /' "$tmp/static" >&2
fi

# --- 4. no printing, no exit -------------------------------------------------------
# _exit() is fine (forked children end with it); exit() runs the
# application's atexit handlers and stdio flushes from inside the library.
nm -D --undefined-only "$so" | awk '{ sub(/@.*/, "", $2); print $2 }' | sort -u > "$tmp/imports"
grep -Ex 'exit|atexit|on_exit|quick_exit|stdout|stderr|printf|__printf_chk|vprintf|__vprintf_chk|puts|putchar|perror|psignal|psiginfo|err|errx|verr|verrx|warn|warnx|vwarn|vwarnx|error|error_at_line|syslog|vsyslog|__syslog_chk|__vsyslog_chk' \
	"$tmp/imports" > "$tmp/prints"
if [ -s "$tmp/prints" ]; then
	fail "the library calls functions that exit or print (log through bh_loop_set_logger instead):"
	sed 's/^/  /' "$tmp/prints" >&2
fi

if [ "$status" -eq 0 ]; then
	echo "ok: $(wc -l < "$tmp/api") bh_ functions and $(grep -c '^bh__' "$tmp/exported") generated bh__ symbols exported, all declared; nothing else"
fi
exit "$status"
