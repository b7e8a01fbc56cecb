#!/bin/sh
# The chaos run under valgrind memcheck (docs/RELIABILITY.md): the broker
# alone is watched (BH_ZYGOTE_EXEC=1 execs the zygote, and valgrind does not
# follow exec), renderers and the gpu are killed at random for a few
# seconds, and the broker must end with no memory error and no leak.
#   test_valgrind.sh BROWSER SECONDS SANITIZED
# Exit 77 (skipped) when valgrind is missing or the build is sanitized
# (AddressSanitizer and valgrind cannot share a process).
set -u
browser=$1
secs=$2
sanitized=$3

if [ "$sanitized" = "ON" ] || [ "$sanitized" = "1" ]; then
  echo "test_valgrind: sanitized build, valgrind cannot run it: skipped"
  exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "test_valgrind: valgrind is not installed (scripts/deps.sh build test): skipped"
  exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
BH_ZYGOTE_EXEC=1 valgrind --trace-children=no --leak-check=full \
  --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=99 "$browser" --headless --no-preview --chaos "$secs" >"$out" 2>&1
rc=$?
# valgrind 3.19 has no wrapper for openat2 (the file broker then walks paths itself): not an error.
grep -v -e '^--[0-9]*-- ' "$out"

fail() {
  echo "test_valgrind: FAILED: $*"
  exit 1
}
[ "$rc" -eq 0 ] || fail "exit status $rc (99: valgrind found errors)"
grep -q 'ERROR SUMMARY: 0 errors' "$out" || fail "valgrind reported errors"
grep -q -e 'All heap blocks were freed' -e 'definitely lost: 0 bytes' "$out" || fail "leaks"
kills=$(sed -n 's/^chaos: \([0-9]*\) kills in.*/\1/p' "$out")
[ -n "$kills" ] && [ "$kills" -gt 0 ] || fail "no kill was made (kills: '${kills}')"
loaded=$(grep -c '^[ *][0-9] *loaded ' "$out")
[ "$loaded" -eq 8 ] || fail "$loaded of 8 tabs loaded at the end"
# Only the broker ran under valgrind: one process id in its lines.
pids=$(sed -n 's/^==\([0-9]*\)==.*/\1/p' "$out" | sort -u | wc -l)
[ "$pids" -eq 1 ] || fail "valgrind watched $pids processes, not only the broker"
echo "test_valgrind: $kills kills survived under memcheck, 0 errors, no leak from the broker"
