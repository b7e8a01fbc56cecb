#!/usr/bin/env bash
# Regenerates the recorded seeds of the checked-in corpora from real traffic:
# bh_fuzz_record_traffic runs a worker/broker session over a real socketpair
# with a channel recorder on the broker side, and bulkhead-dump turns every
# recorded frame into a seed (envelope form for the channel harnesses, bare
# frames for fuzz_decode). It also writes the hand-made sessions of
# fuzz_supervisor, fuzz_surface and fuzz_gpu (bh_fuzz_seedgen), fuzz_broker's
# (bh_fuzz_seedgen_broker, and sessions recorded from a run of the demo), and
# the page seeds of fuzz_page. Seeds found by fuzzing (other names) are kept.
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

# Hand-made sessions of the sequence harnesses, built with the real encoders.
if [ -x "$build/fuzz/bh_fuzz_seedgen" ]; then
  for h in fuzz_supervisor fuzz_surface fuzz_gpu; do
    mkdir -p "fuzz/corpus/$h"
    "$build/fuzz/bh_fuzz_seedgen" "$h" "fuzz/corpus/$h"
  done
else
  echo "make-seeds.sh: $build/fuzz/bh_fuzz_seedgen missing; sequence seeds left as they are" >&2
fi

# fuzz_broker: sessions in the demo's messages (bh_fuzz_seedgen_broker, with the demo only).
if [ -x "$build/fuzz/bh_fuzz_seedgen_broker" ]; then
  mkdir -p fuzz/corpus/fuzz_broker
  "$build/fuzz/bh_fuzz_seedgen_broker" fuzz/corpus/fuzz_broker
fi

# fuzz_broker: real demo traffic. bulkhead-browser --record keeps every worker
# channel from after its handshake; the frames the broker received become
# sessions from the gpu (options 0) and from tab 1's and tab 2's renderers
# (options 1 and 2), as fuzz/fuzz_broker.c reads them.
if [ -x "$build/broker/bulkhead-browser" ]; then
  recdir=$(mktemp -d)
  seqdir=$(mktemp -d)
  printf '%s\n' 'wait loaded' 'scroll 1 300' 'wait loaded' 'overview on' 'wait loaded' \
    'overview off' 'follow 2 2' 'wait loaded' 'crash 2' 'wait loaded' 'stats' >"$recdir/script"
  # (The gpu's output surface is the demo's 320x200 at the least, not the fixture's 64x48:
  # the broker refuses it, and the mutator has the geometry fields to find the fixture's.)
  if "$build/broker/bulkhead-browser" --headless --no-preview --size 320x200 --record "$recdir" \
       --script "$recdir/script" long.html links.html >/dev/null 2>&1; then
    rm -f fuzz/corpus/fuzz_broker/demo-*
    for f in "$recdir"/*.bhrec; do
      case $(basename "$f") in
        gpu-*) opt=0 ;;
        renderer-1-*) opt=1 ;;
        renderer-2-*) opt=2 ;;
        *) continue ;;
      esac
      "$build/tools/bulkhead-dump" --seeds "$seqdir" --format sequence --options "$opt" "$f"
    done
    for f in "$seqdir"/seq-*; do
      [ -e "$f" ] && mv "$f" "fuzz/corpus/fuzz_broker/demo-${f##*/seq-}"
    done
  else
    echo "make-seeds.sh: the demo run failed; fuzz_broker's demo-* seeds left as they are" >&2
  fi
  rm -rf "$recdir" "$seqdir"
fi

# fuzz_page: the sample pages as they are (not the 1 MiB one, over any -max_len),
# and pages with their images after a separator (fuzz/fuzz_page.c).
page=fuzz/corpus/fuzz_page
mkdir -p "$page"
rm -f "$page"/page-* "$page"/bad-* "$page"/with-*
for f in pages/*.html pages/bad/*.html; do
  [ "$(stat -c %s "$f")" -le 65536 ] || continue
  case $f in pages/bad/*) n=bad-$(basename "$f" .html) ;; *) n=page-$(basename "$f" .html) ;; esac
  cp "$f" "$page/$n"
done
with_images() { # NAME PAGE SEPARATOR IMAGE...
  local name=$1 src=$2 sep=$3
  shift 3
  {
    cat "$src"
    for img in "$@"; do printf '\n--bh-%s--\n' "$sep"; cat "$img"; done
  } >"$page/with-$name"
}
with_images images pages/images.html image pages/img/logo.png pages/img/alpha.png \
  pages/img/checker.png pages/img/gray.png pages/img/stripes.png
for b in huge-dims:hostile-image bad-crc:image-bad-crc bad-zlib:image-bad-zlib bomb:image-bomb \
         not-png:image-not-png truncated:image-truncated; do
  with_images "${b%%:*}" "pages/bad/${b#*:}.html" raw-image "pages/bad/img/${b%%:*}.png"
done
