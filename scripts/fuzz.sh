#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each one
# for a bounded time from its seed corpus and saved regressions. Any crash,
# sanitizer report, leak, timeout or out-of-memory fails the run, and the
# offending input is printed (base64, hex dump and decoded). docs/FUZZING.md.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
#
#   SECONDS           per harness (default: $BH_FUZZ_TIME or 30)
#   HARNESS           fuzz_frame, fuzz_decode, ... (default: all of them)
#   BH_FUZZ_BUILD     build directory (default: build-fuzz)
#   BH_FUZZ_JOBS      parallel compile jobs (default: 2)
#   BH_FUZZ_ARTIFACTS where crash/leak/timeout inputs go (default: $BH_FUZZ_BUILD/artifacts)
#   BH_FUZZ_ARGS      extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#
# Exit status: 0 all clean, 1 a harness failed, 2 setup problem.
set -uo pipefail

cd "$(dirname "$0")/.."
src=$(pwd)
secs=${BH_FUZZ_TIME:-30}
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
fi
build=${BH_FUZZ_BUILD:-build-fuzz}
jobs=${BH_FUZZ_JOBS:-2}
artifacts=${BH_FUZZ_ARTIFACTS:-$build/artifacts}
all_harnesses=(fuzz_frame fuzz_decode fuzz_supervisor fuzz_surface fuzz_filebroker fuzz_page fuzz_broker fuzz_gpu)
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=("${all_harnesses[@]}")

say() { printf 'fuzz.sh: %s\n' "$*" >&2; }
# CPU time the hypervisor took from this machine, in clock ticks over all CPUs.
steal_ticks() { awk '/^cpu /{ print $9 + 0 }' /proc/stat 2>/dev/null || echo 0; }

# clang and its libFuzzer runtime; prints the apt command when not root.
scripts/deps.sh fuzz
case $? in
  0) ;;
  2) say "install the packages above, then run this again"; exit 2 ;;
  *) say "scripts/deps.sh fuzz failed"; exit 2 ;;
esac

mkdir -p "$build"
if ! CC=clang cmake -S . -B "$build" -DBH_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  say "configure failed"
  exit 2
fi
# fuzz_page needs the demo's page engine (libpng, freetype): without it there is no such target.
known=$(cmake --build "$build" --target help 2>/dev/null)
targets=()
skipped=()
for h in "${harnesses[@]}"; do
  # fuzz_broker and fuzz_gpu too: they run the demo broker's and gpu's own code.
  if [[ "$h" = fuzz_page || "$h" = fuzz_broker || "$h" = fuzz_gpu ]] && ! grep -qw "$h" <<<"$known"; then
    say "$h: not configured (needs -DBH_BUILD_DEMO=ON with libpng and freetype); skipped"
    skipped+=("$h")
    continue
  fi
  targets+=("$h")
done
harnesses=("${targets[@]}")
if ! cmake --build "$build" -j "$jobs" --target "${harnesses[@]}" bulkhead-dump >/dev/null; then
  say "build failed (rerun: cmake --build $build --target ${harnesses[*]})"
  exit 2
fi
mkdir -p "$artifacts"

# Leaks are reported by libFuzzer after each input; UBSan must stop at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Prints one saved input every way that helps: base64 to paste, hex, and decoded.
show_input() {
  local f=$1
  echo "---- input $f ($(stat -c %s "$f") bytes)"
  echo "base64:"
  base64 -w 76 "$f"
  echo "hex:"
  od -A x -t x1z -v "$f" | head -64
  # bulkhead-dump reads envelopes and frames; the other harnesses take sequences, paths or pages.
  case $h in
    fuzz_frame | fuzz_decode) echo "decoded:"; "$build/tools/bulkhead-dump" "$f" 2>&1 | head -80 ;;
  esac
  echo "reproduce: $build/fuzz/$h $f"
}

failed=0
summary=()
for h in "${harnesses[@]}"; do
  bin=$build/fuzz/$h
  if [ ! -x "$bin" ]; then
    say "no harness '$h' (known: ${all_harnesses[*]})"
    exit 2
  fi
  # New inputs go to a scratch corpus: the checked-in one stays minimal.
  work=$build/corpus/$h
  mkdir -p "$work"
  log=$build/$h.log
  rm -f "$artifacts/$h"-*
  say "$h: ${secs}s"
  dict=()
  if [ -f "fuzz/dict/$h.dict" ]; then
    dict=(-dict="fuzz/dict/$h.dict")
  elif [ -f fuzz/dict/bulkhead.dict ]; then
    dict=(-dict=fuzz/dict/bulkhead.dict)
  fi
  mkdir -p "fuzz/regressions/$h"
  # The demo harnesses' speed swings with the size of the inputs they breed
  # (docs/FUZZING.md, "Figures"). fuzz_page and fuzz_gpu: the entropic
  # schedule weighs each input by its run time, which keeps the corpus fast.
  # fuzz_broker's inputs cost much the same whatever their size: the
  # schedule's feature bookkeeping is all it adds there.
  tune=()
  case $h in
    fuzz_page | fuzz_gpu) tune=(-entropic_scale_per_exec_time=1) ;;
    fuzz_broker) tune=(-entropic=0) ;;
  esac
  # On a shared virtual machine the host may take much of the CPU time
  # (steal): the harness's own CPU time and the steal are printed beside
  # libFuzzer's wall-clock rate so that a slow run can be told apart.
  steal0=$(steal_ticks)
  TIMEFORMAT='%R %U %S'
  # shellcheck disable=SC2086
  { time "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=70000 "${tune[@]}" \
    -print_final_stats=1 -artifact_prefix="$artifacts/$h-" "${dict[@]}" ${BH_FUZZ_ARGS:-} \
    "$work" "fuzz/corpus/$h" "fuzz/regressions/$h" >"$log" 2>&1; } 2>"$build/$h.time"
  rc=$?
  steal1=$(steal_ticks)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  cpu=$(awk -v runs="${runs:-0}" -v s0="$steal0" -v s1="$steal1" -v hz="$(getconf CLK_TCK)" \
    -v ncpu="$(nproc)" 'NF == 3 && $1 > 0 {
      c = $2 + $3
      printf("%d per CPU second, steal %d%%", (c > 0 ? runs / c : 0), 100 * (s1 - s0) / hz / ncpu / $1)
    }' "$build/$h.time" 2>/dev/null)
  if [ $rc -ne 0 ]; then
    failed=1
    summary+=("$h: FAILED (exit $rc) after ${runs:-?} runs")
    say "$h FAILED (exit $rc); log: $log"
    grep -E 'ERROR|SUMMARY|invariant|runtime error|leak' "$log" | head -20 >&2
    tail -60 "$log" >&2
    found=0
    for f in "$artifacts/$h"-*; do
      [ -f "$f" ] || continue
      found=1
      show_input "$f" >&2
    done
    [ $found -eq 0 ] && say "$h: no input was saved (see the log)"
  else
    summary+=("$h: ok, ${runs:-?} runs, ${rate:-?} execs/s (${cpu:-CPU time unknown}), ${cov:-cov: ?}")
  fi
done

for h in "${skipped[@]}"; do
  summary+=("$h: skipped, not configured")
done
for line in "${summary[@]}"; do
  say "$line"
done
if [ $failed -ne 0 ]; then
  say "to keep a failing input as a regression test: cp ARTIFACT fuzz/regressions/HARNESS/NAME (docs/FUZZING.md)"
fi
exit $failed
