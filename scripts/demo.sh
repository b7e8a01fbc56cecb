#!/usr/bin/env bash
# Builds bulkhead and runs the demo browser headless on the bundled pages:
# four tabs, each rendered by its own sandboxed renderer process, composited
# by the gpu process. The tour below switches tabs, crashes one renderer
# (sad tab, restart, reload), lets the sandbox stop an escape attempt,
# crashes the gpu process (every tab comes back) and ends with the process
# table and a screenshot. With a terminal, a live preview is drawn above the
# log. Extra arguments go to bulkhead-browser (e.g. --no-preview, --size).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! scripts/deps.sh build; then
  echo "demo.sh: the packages above are needed to build and run the demo" >&2
  exit 2
fi
mkdir -p build
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/demo.configure.log 2>&1 || {
  cat build/demo.configure.log >&2
  exit 1
}
cmake --build build/demo -j "${BH_JOBS:-2}" --target bulkhead-browser >build/demo.build.log 2>&1 || {
  tail -n 40 build/demo.build.log >&2
  exit 1
}
pause=${BH_DEMO_PAUSE:-1200}
cat >build/demo/tour.txt <<TOUR
wait loaded
list
sleep $pause
tab 2
wait loaded
sleep $pause
tab 3
wait loaded
sleep $pause
tab 4
wait loaded
sleep $pause
# A renderer crashes: its tab shows the sad frame, the renderer restarts, the page reloads.
crash 3
tab 3
wait event sad
sleep $pause
wait loaded
sleep $pause
# The sandbox stops a renderer that tries to open /etc/passwd and names the call.
navigate 2 about:escape
wait event sandbox
wait loaded
# The gpu process dies: it is restarted and every tab re-attaches its surface.
navigate about:gpucrash
wait event gpu-ready
wait loaded
overview on
wait loaded
sleep $pause
screenshot build/demo/screenshot.png
stats
TOUR
exec build/demo/broker/bulkhead-browser --headless --script build/demo/tour.txt "$@"
