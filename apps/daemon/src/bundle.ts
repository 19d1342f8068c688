import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface BundleOptions {
  /** Empty or absent folder that receives the deployable daemon. */
  out: string;
  /** Plugin packages of this workspace to include, e.g. `@camd/plugin-rtsp`. */
  plugins: string[];
  /** The workspace root (default: found from this file). */
  workspace?: string;
  log?: (line: string) => void;
}

/**
 * Builds a self-contained daemon folder with core and only the chosen plugins: `pnpm deploy` of the
 * daemon without its optional plugin dependencies, then each chosen plugin deployed into its
 * node_modules (its peer `@camd/core` resolves to the daemon's copy, so there is one core). Nothing of
 * the plugins left out is installed: a core + RTSP bundle holds no werift and no ONVIF library.
 */
export function bundle(opts: BundleOptions): { out: string; config: string } {
  const root = opts.workspace ?? findWorkspaceRoot(dirname(new URL(import.meta.url).pathname));
  const out = resolve(opts.out);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty`);
  const known = workspacePackages(root);
  for (const p of opts.plugins) if (!known.has(p)) throw new Error(`"${p}" is not a package of this workspace (have: ${[...known].filter((n) => n.includes('plugin')).join(', ')})`);

  log(`bundle: daemon + core into ${out}`);
  pnpm(root, ['--filter', '@camd/daemon', 'deploy', '--prod', '--no-optional', out]);
  for (const p of opts.plugins) {
    const dest = join(out, 'node_modules', ...p.split('/'));
    mkdirSync(dirname(dest), { recursive: true });
    log(`bundle: ${p}`);
    pnpm(root, ['--filter', p, 'deploy', '--prod', '--config.auto-install-peers=false', dest]);
  }
  const defaults = JSON.parse(readFileSync(join(root, 'apps/daemon/config/default.json'), 'utf8')) as Record<string, unknown>;
  const config = join(out, 'config.json');
  writeFileSync(config, JSON.stringify({ ...defaults, plugins: opts.plugins }, null, 2) + '\n');
  log(`bundle: done. Run: node ${join(out, 'bin/camd.js')} --config ${config} --state-dir ${join(out, 'state')}`);
  return { out, config };
}

function pnpm(cwd: string, args: string[]): void {
  const r = spawnSync('pnpm', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pnpm ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
}

function findWorkspaceRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('camd bundle runs from a camd workspace checkout (no pnpm-workspace.yaml found)');
    dir = up;
  }
}

function workspacePackages(root: string): Set<string> {
  const names = new Set<string>();
  for (const group of ['packages', 'apps', 'examples']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const d of readdirSync(dir)) {
      const pj = join(dir, d, 'package.json');
      if (existsSync(pj)) names.add((JSON.parse(readFileSync(pj, 'utf8')) as { name: string }).name);
    }
  }
  return names;
}
