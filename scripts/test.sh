#!/usr/bin/env bash
# Sets up what is missing, including the real clients the tests drive (ffmpeg, GStreamer, Chromium,
# OpenCV), then type-checks, builds every package (`tsc -b`: some tests run the built daemon, a
# bundle, packed tarballs) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
CAMD_SETUP_TEST=1 bash scripts/setup.sh
echo "test: type-checking"
pnpm exec tsc -p tsconfig.json --noEmit
echo "test: building (tsc -b)"
pnpm build
echo "test: running all tests"
pnpm exec vitest run "$@"
