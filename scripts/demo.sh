#!/usr/bin/env bash
# Builds bulkhead and runs the demo. Until the tab-renderer demo lands, the
# demo is the benchmark program: it shows the framework beside raw-syscall
# baselines and peer libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! scripts/deps.sh build bench; then
  echo "demo.sh: the packages above are needed to build and run the demo" >&2
  exit 2
fi
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/demo.configure.log 2>&1 || {
  cat build/demo.configure.log >&2
  exit 1
}
cmake --build build/demo -j "${BH_JOBS:-2}" --target bulkhead-bench >/dev/null
exec build/demo/bench/bulkhead-bench "$@"
