/**
 * `pnpm bench`: runs every benchmark in this folder (bench/*.ts with an exported `main`) in turn and
 * prints their figures. Benchmarks assert nothing; they measure.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)));

for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { main?: () => Promise<void> };
  if (typeof mod.main !== 'function') continue;
  console.log(`\n=== ${f} ===`);
  await mod.main();
}
