import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { freePort } from '@camd/core/testing';
import { TUNING } from '../src/tuning.js';

/** The daemon as production runs it: built JavaScript (vitest's global setup brings dist/ up to date). */
export const CAMD_BIN = resolve(import.meta.dirname, '../bin/camd.js');

/**
 * How to start bin/camd.js: `program` with the Node flags and environment of its `#!` line (what
 * running the file, start.sh and camd.service do: one process, the media process its child), or
 * `node`: plain `node bin/camd.js`, which relaunches itself tuned under this process.
 */
export type Launch = 'program' | 'node';
const launchArgs = (launch: Launch) => (launch === 'program' ? [...TUNING.nodeFlags] : []);
const launchEnv = (launch: Launch) => (launch === 'program' ? TUNING.env : {});

export interface DaemonProcess {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  stateDir: string;
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Writes `config` to a temp file and runs the real daemon on it. Without the NODE_PATH that `pnpm
 * exec` sets (pnpm's hoisted packages): the daemon finds plugins as it would for a user.
 */
export async function startDaemon(
  config: Record<string, unknown>,
  opts: { stateDir?: string; env?: NodeJS.ProcessEnv; bin?: string; cwd?: string; yaml?: boolean; args?: string[]; launch?: Launch; detached?: boolean } = {},
): Promise<DaemonProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'camd-daemon-'));
  const stateDir = opts.stateDir ?? join(dir, 'state');
  const configPath = join(dir, opts.yaml ? 'config.yaml' : 'config.json');
  // No HTTPS/RTSPS unless the config asks (their default ports are fixed); the HTTP port is a free one.
  const doc = { ...config, http: { tls: false, ...(config.http as object | undefined), host: '127.0.0.1', port } };
  writeFileSync(configPath, opts.yaml ? toYaml(doc) : JSON.stringify(doc));
  const launch = opts.launch ?? 'program';
  const child = spawn(process.execPath, [...launchArgs(launch), opts.bin ?? CAMD_BIN, '--config', configPath, '--state-dir', stateDir, ...(opts.args ?? [])], {
    env: { ...process.env, NODE_PATH: undefined, ...launchEnv(launch), CAMD_LOG_LEVEL: 'info', ...opts.env },
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a shell gives a foreground command (its Ctrl-C goes to the group).
    detached: opts.detached,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${out}`);
    try {
      // Healthy means the pipelines produce frames, not only that HTTP is up.
      const r = await fetch(`${baseUrl}/api/health`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon did not become healthy within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    port,
    baseUrl,
    stateDir,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      if (!opts.stateDir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Runs the daemon CLI to completion (for errors and sub-commands), without pnpm's NODE_PATH. */
export function runCamd(args: string[], input?: string, bin = CAMD_BIN): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: undefined } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input ?? '');
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** PIDs of the direct children of `pid` (the media process). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}
