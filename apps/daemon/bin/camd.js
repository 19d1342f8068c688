#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576 node --max-semi-space-size=2
// Runs the built daemon (dist/, compiled by `pnpm build`): plain Node, no TypeScript transpiler.
// The first line is the daemon's memory tuning (two malloc arenas, blocks of 1 MiB and more mmapped,
// a 2 MiB semi-space: why in src/tuning.ts). `node bin/camd.js` skips that line: the daemon then
// starts itself again, once, with the tuning (relaunchTuned), and this process waits for it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = (file) => new URL(`../dist/${file}`, import.meta.url);
if (!existsSync(dist('main.js'))) {
  process.stderr.write('camd: not built (no dist/main.js): run `pnpm build` in the workspace, or `bash scripts/start.sh`\n');
  process.exit(1);
}
const argv = process.argv.slice(2);
const { LAUNCHED_ENV, missingTuning, relaunchTuned } = await import(dist('tuning.js').href);
if (process.env[LAUNCHED_ENV]) {
  // Started by a launcher: none of its own children need to know. Its end of the IPC channel closes
  // when it dies, whatever killed it: stop then as on SIGTERM.
  delete process.env[LAUNCHED_ENV];
  process.channel?.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
} else if (!process.execArgv.some((a) => a.startsWith('--inspect'))) {
  // Only the daemon itself needs the tuning (not `plugins`, `hash-password`, …); a debugger attached
  // to this process stays with it.
  const { parseArgs } = await import(dist('args.js').href);
  let command;
  try {
    command = parseArgs(argv).command;
  } catch {
    /* main() reports the bad arguments */
  }
  const missing = command === 'run' ? missingTuning(process.env, process.execArgv) : undefined;
  if (missing) await relaunchTuned(fileURLToPath(import.meta.url), argv, missing);
}
const { main } = await import(dist('main.js').href);
process.exitCode = await main(argv);
