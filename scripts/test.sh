#!/usr/bin/env bash
# Sets up what is missing, including the real clients the tests drive (ffmpeg, GStreamer, Chromium,
# OpenCV), then type-checks, builds every package (`tsc -b`: some tests run the built daemon, a
# bundle, packed tarballs) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
CAMD_SETUP_TEST=1 bash scripts/setup.sh
# The type check and the build are two single-threaded tsc runs: side by side on two cores.
echo "test: type-checking, and building (tsc -b) meanwhile"
typecheck_log=$(mktemp)
pnpm exec tsc -p tsconfig.json --noEmit > "$typecheck_log" 2>&1 &
typecheck=$!
pnpm build
typecheck_rc=0
wait "$typecheck" || typecheck_rc=$?
cat "$typecheck_log"
rm -f "$typecheck_log"
[ "$typecheck_rc" = 0 ] || { echo "test: the type check failed" >&2; exit "$typecheck_rc"; }
echo "test: lint and format (biome check)"
pnpm exec biome check .
# Tests that run the default 1080p60 + 720p30 streams on one source (two encoders, a compositor and
# overlays on two cores), or overload the machine on purpose, run on their own after the others, so
# no other test file shares the machine with them.
HEAVY_TESTS=(apps/daemon/test/shared-source.test.ts packages/plugin-pip/src/pip-overload.test.ts packages/plugin-webrtc/src/webrtc-default-config.test.ts)
if [ $# -gt 0 ]; then
  pnpm exec vitest run "$@"
else
  echo "test: running all tests"
  pnpm exec vitest run $(printf -- '--exclude %s ' "${HEAVY_TESTS[@]}")
  echo "test: running the heavy pipeline tests alone"
  pnpm exec vitest run --maxWorkers=1 "${HEAVY_TESTS[@]}"
fi
