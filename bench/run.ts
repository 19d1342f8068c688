/**
 * `pnpm bench`: runs every benchmark in this folder (bench/*.ts with an exported `main`) in turn and
 * prints their figures. Benchmarks assert nothing; they measure. `pnpm bench native rtsp` runs the
 * ones whose file name starts with an argument (or the one file an argument names exactly). A benchmark that exports `onlyWhenNamed = true` (a
 * long soak) runs only when named.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  // tmp-*.ts are someone's scratch reproductions (they run on import), not benchmarks.
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.startsWith('tmp-'))
  // A name that is a whole file name picks that file alone (`soak` is soak.ts, not soak-memory.ts too).
  .filter((f, _, all) => only.length === 0 || only.some((o) => (all.includes(`${o}.ts`) ? f === `${o}.ts` : f.startsWith(o))));

for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { main?: () => Promise<void>; onlyWhenNamed?: boolean };
  if (typeof mod.main !== 'function') continue;
  if (mod.onlyWhenNamed && only.length === 0) continue;
  console.log(`\n=== ${f} ===`);
  await mod.main();
}
