import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { workspacePackages, workspaceRoot } from './workspace.js';

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
 * Builds a self-contained daemon folder with core and only the chosen plugins. It first brings their
 * dist/ up to date (`tsc -b`): the bundle runs built JavaScript on plain Node and installs no
 * transpiler. Then `pnpm deploy --prod` of the daemon (the workspace's plugins are only its dev
 * dependencies, so none comes along), and each
 * chosen plugin deployed into its node_modules (its peer `@camd/core` resolves to the daemon's copy,
 * so there is one core). Nothing of the plugins left out is installed: a core + RTSP bundle holds no
 * werift and no ONVIF library. The folder can be moved: nothing in it points back to the workspace.
 */
export function bundle(opts: BundleOptions): { out: string; config: string } {
  const root = opts.workspace ?? findWorkspaceRoot(dirname(new URL(import.meta.url).pathname));
  const out = resolve(opts.out);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} is not empty`);
  const known = workspacePackages(root);
  for (const p of opts.plugins)
    if (!known.has(p)) throw new Error(`"${p}" is not a package of this workspace (have: ${[...known.keys()].filter((n) => n.includes('plugin')).join(', ')})`);

  // `tsc -b`, incremental (the daemon's project references core's), dropping outputs whose source is gone.
  log('bundle: building (tsc -b)');
  const projects = ['@camd/daemon', ...opts.plugins].map((p) => join(known.get(p)!, 'tsconfig.build.json'));
  run(process.execPath, [join(root, 'scripts/build.mjs'), ...projects], root);

  log(`bundle: daemon + core into ${out}`);
  pnpm(root, ['--filter', '@camd/daemon', 'deploy', '--prod', out]);
  for (const p of opts.plugins) {
    const dest = join(out, 'node_modules', ...p.split('/'));
    mkdirSync(dirname(dest), { recursive: true });
    log(`bundle: ${p}`);
    pnpm(root, ['--filter', p, 'deploy', '--prod', '--config.auto-install-peers=false', dest]);
  }
  detachFromWorkspace(out);
  const defaults = JSON.parse(readFileSync(join(root, 'apps/daemon/config/default.json'), 'utf8')) as Record<string, unknown>;
  const config = join(out, 'config.json');
  writeFileSync(config, JSON.stringify({ ...defaults, plugins: opts.plugins }, null, 2) + '\n');
  log(`bundle: done. Run: ${join(out, 'bin/camd.js')} --config ${config} --state-dir ${join(out, 'state')}`);
  return { out, config };
}

/**
 * Makes the folder independent of the workspace it came from. `pnpm deploy` hard-links the files of
 * the workspace packages it injects (`.pnpm/<name>@file+…`, pnpm/pnpm#12176), so the next build in the
 * workspace would rewrite the installed core in place: those files become copies. It also links the
 * deployed package into `.pnpm/node_modules` with a path back into the workspace: such links go.
 */
function detachFromWorkspace(out: string): void {
  const walk = (dir: string, injected: boolean): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) {
        const target = readlinkSync(p);
        if (isAbsolute(target) || relative(out, resolve(dir, target)).startsWith('..')) rmSync(p);
      } else if (e.isDirectory()) {
        walk(p, injected || e.name.includes('@file+'));
      } else if (injected && e.isFile() && lstatSync(p).nlink > 1) {
        copyFileSync(p, `${p}.camd-copy`);
        renameSync(`${p}.camd-copy`, p);
      }
    }
  };
  walk(out, false);
}

function pnpm(cwd: string, args: string[]): void {
  run('pnpm', args, cwd);
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd === process.execPath ? 'node' : cmd} ${args.join(' ')} failed (${r.status ?? r.error}):\n${r.stdout}${r.stderr}`);
}

function findWorkspaceRoot(from: string): string {
  const root = workspaceRoot(from);
  if (!root) throw new Error('camd bundle runs from a camd workspace checkout (no pnpm-workspace.yaml found)');
  return root;
}
