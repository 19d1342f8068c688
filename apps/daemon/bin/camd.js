#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576 node --max-semi-space-size=2
// Runs the built daemon (dist/, compiled by `pnpm build`): plain Node, no TypeScript transpiler.
// How the daemon runs (scripts/start.sh and packaging/camd.service say the same), measured on the
// default config with two RTSP readers and a stats poller:
// - two malloc arenas, not glibc's 8 per core: about 12 MiB less resident;
// - blocks of 1 MiB and more always mmapped: each password check (scrypt, 16 MiB) used to leave its
//   block in an arena, once glibc had raised its mmap threshold (+30 MiB that stayed);
// - a young generation of at most 2 × 2 MiB instead of 2 × 16 MiB: media bytes live outside V8's heap,
//   so scavenges stay short.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('camd: not built (no dist/main.js): run `pnpm build` in the workspace, or `bash scripts/start.sh`\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
