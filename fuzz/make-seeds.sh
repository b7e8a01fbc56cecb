#!/usr/bin/env bash
# Regenerates the recorded seeds of the checked-in corpora from real traffic:
# bh_fuzz_record_traffic runs a worker/broker session over a real socketpair
# with a channel recorder on the broker side, and bulkhead-dump turns every
# recorded frame into a seed (envelope form for the channel harnesses, bare
# frames for fuzz_decode). Seeds found by fuzzing (other names) are kept.
#
#   fuzz/make-seeds.sh [BUILD_DIR]     (default: build; any normal build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
for t in fuzz/bh_fuzz_record_traffic tools/bulkhead-dump; do
  if [ ! -x "$build/$t" ]; then
    echo "make-seeds.sh: $build/$t missing: cmake --build $build --target $(basename "$t")" >&2
    exit 2
  fi
done
rec=$(mktemp --suffix=.bhrec)
trap 'rm -f "$rec"' EXIT
"$build/fuzz/bh_fuzz_record_traffic" "$rec"
mkdir -p fuzz/corpus/fuzz_frame fuzz/corpus/fuzz_decode
rm -f fuzz/corpus/fuzz_frame/recv-* fuzz/corpus/fuzz_frame/sent-* \
      fuzz/corpus/fuzz_decode/recv-* fuzz/corpus/fuzz_decode/sent-*
"$build/tools/bulkhead-dump" --seeds fuzz/corpus/fuzz_frame --format envelope "$rec"
"$build/tools/bulkhead-dump" --seeds fuzz/corpus/fuzz_decode --format frame "$rec"
