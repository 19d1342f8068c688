import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * Vitest global setup: the tests themselves run the TypeScript sources, but some start what
 * production runs (the built daemon, a bundle, packed tarballs). Bring every package's dist/ up to
 * date first (`pnpm build`: `tsc -b`, incremental: about a second when nothing changed), once per run, so no test
 * sees a stale build. Type errors do not stop the run (tsc still emits; `scripts/test.sh` and
 * `pnpm typecheck` report them); a build that produced nothing does.
 */
export default function setup(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`build (tsc -b) reported errors; tests run with what it emitted:\n${r.stdout}${r.stderr}\n`);
  for (const f of ['apps/daemon/dist/main.js', 'packages/core/dist/index.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`build (tsc -b) produced no ${f}:\n${r.stdout}${r.stderr}${r.error ?? ''}`);
  }
}
