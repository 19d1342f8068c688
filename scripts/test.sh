#!/usr/bin/env bash
# Sets up what is missing, including the real clients the tests drive (ffmpeg, GStreamer, Chromium,
# OpenCV), then type-checks and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
CAMD_SETUP_TEST=1 bash scripts/setup.sh
echo "test: type-checking"
pnpm exec tsc -p tsconfig.json --noEmit
echo "test: running all tests"
pnpm exec vitest run "$@"
