#!/usr/bin/env bash
# Builds bulkhead and runs every test, the way CI does:
#   1. a normal build with warnings as errors, and the whole ctest suite;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build, and the suite again;
#   3. each libFuzzer harness for a bounded time (BH_FUZZ_TIME, default 30 s).
# Missing Debian packages are installed when run as root; otherwise the exact
# apt-get command is printed and the script stops.
#
#   scripts/test.sh            everything
#   BH_TEST_SKIP=asan,fuzz     leave out steps (release, asan, fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${BH_JOBS:-2}
skip=",${BH_TEST_SKIP:-},"
passed=0
failed=0

if ! scripts/deps.sh build test; then
  echo "test.sh: the packages above are needed to build and test bulkhead" >&2
  exit 2
fi

run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "==> $name: configure and build ($dir)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBH_WERROR=ON "$@" >"$dir.configure.log" 2>&1 || {
    cat "$dir.configure.log" >&2
    return 1
  }
  cmake --build "$dir" -j "$jobs" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- |Scanning dependencies|Consolidate compiler' || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  echo "==> $name: ctest"
  local log="$dir.ctest.log" rc=0
  (cd "$dir" && ctest -j "$jobs" --output-on-failure) >"$log" 2>&1 || rc=$?
  tail -n 40 "$log"
  local total bad
  total=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
  bad=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  passed=$((passed + ${total:-0} - ${bad:-0}))
  failed=$((failed + ${bad:-0}))
  [ "$rc" -eq 0 ]
}

mkdir -p build
status=0
if [[ $skip != *,release,* ]]; then
  run_suite "release" build/test || status=1
fi
if [[ $skip != *,asan,* ]]; then
  run_suite "asan+ubsan" build/asan -DBH_SANITIZE=ON -DBH_BUILD_BENCH=OFF || status=1
fi
if [[ $skip != *,fuzz,* ]]; then
  echo "==> fuzzers: ${BH_FUZZ_TIME:-30} s each"
  if BH_FUZZ_BUILD=build/fuzz scripts/fuzz.sh; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    status=1
  fi
fi
echo "test.sh: $passed passed, $failed failed"
exit $status
