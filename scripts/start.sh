#!/usr/bin/env bash
# Sets up what is missing (Debian packages, pnpm, node modules), builds what is missing or out of date
# (`tsc -b` into each package's dist/, incremental), then starts camd, built JavaScript on plain Node,
# on the embedded default: the seed's two streams, from /dev/video0 when present, else a test pattern.
# Extra arguments go to the daemon (e.g. --config FILE --state-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "start: building (tsc -b)"
pnpm build
# The daemon's memory tuning, as bin/camd.js's first line sets it (apps/daemon/src/tuning.ts says why), in
# this one process (a plain `node bin/camd.js` would start a tuned daemon under itself); values already set are kept.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-1048576}"
exec node --max-semi-space-size=2 apps/daemon/bin/camd.js "$@"
