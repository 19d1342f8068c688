#!/usr/bin/env node
// `pnpm build`: `tsc -b` over the given tsconfig.build.json files (default: the workspace's solution,
// every package), then deletes what each built project's dist/ holds for a source that no longer
// exists. tsc never deletes outputs, and a bundle or a packed tarball would ship such leftovers (a
// removed child-process entry, say). Exits with tsc's status; the prune runs either way, since tsc
// emits despite type errors.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const configs = (process.argv.length > 2 ? process.argv.slice(2) : [join(ROOT, 'tsconfig.build.json')]).map((c) => resolve(c));

const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-b', ...configs], { stdio: 'inherit' });

// The projects those configs build: themselves and their references, transitively.
const projects = new Set();
const visit = (config) => {
  if (projects.has(config)) return;
  projects.add(config);
  const json = JSON.parse(readFileSync(config, 'utf8'));
  for (const ref of json.references ?? []) {
    const p = resolve(dirname(config), ref.path);
    visit(p.endsWith('.json') ? p : join(p, 'tsconfig.json'));
  }
};
configs.forEach(visit);

const OUTPUT = /(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/;
for (const config of projects) {
  const dir = dirname(config);
  const dist = join(dir, 'dist');
  if (!existsSync(join(dir, 'src')) || !existsSync(dist)) continue;
  const prune = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        prune(p);
        if (readdirSync(p).length === 0) rmdirSync(p);
      } else if (OUTPUT.test(e.name) && !existsSync(join(dir, 'src', relative(dist, p).replace(OUTPUT, '.ts')))) {
        rmSync(p);
      }
    }
  };
  prune(dist);
}
process.exit(r.status ?? 1);
