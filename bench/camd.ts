/**
 * The camd daemon as a user runs it, for benchmarks: `node apps/daemon/bin/camd.js --config FILE
 * --state-dir DIR` on free loopback ports, with the launch text of every pipeline it starts (read from
 * its debug log), its stats API, RTSP readers (ffmpeg), and a stop that leaves no process behind.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopTree } from './proc.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CAMD_BIN = join(ROOT, 'apps/daemon/bin/camd.js');
export const DEFAULT_CONFIG = join(ROOT, 'apps/daemon/config/default.json');
export const BENCH_USER = { username: 'bench', password: 'bench-pass-1', permissions: ['Media_rw'] };

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/**
 * A bench's clients all come from 127.0.0.1, as one user; they stand for clients on many machines.
 * The per-address and per-user limits (far above one real client's needs, far below a bench's hundreds)
 * are raised for them, in the HTTP server and in the RTSP and WebRTC plugins of `config`.
 */
export function asManyClients<C extends Record<string, unknown>>(config: C): C {
  const lots = 100_000;
  const options: Record<string, Record<string, number>> = {
    '@camd/plugin-rtsp': { maxConnectionsPerAddress: lots, maxUnauthenticatedPerAddress: lots, maxUnauthenticated: lots, maxSessionsPerUser: lots },
    '@camd/plugin-webrtc': { maxViewersPerUser: 1000 },
  };
  const plugins = ((config.plugins as unknown[] | undefined) ?? []).map((p) => {
    const entry = (typeof p === 'string' ? { name: p } : p) as { name: string; options?: Record<string, unknown> };
    const more = options[entry.name];
    return more ? { ...entry, options: { ...more, ...entry.options } } : p;
  });
  const http = (config.http as Record<string, unknown> | undefined) ?? {};
  const limits = { maxConnections: lots, maxConnectionsPerAddress: lots, maxUnauthenticatedPerAddress: lots, maxUnauthenticated: lots };
  return { ...config, plugins, http: { ...http, limits: { ...limits, ...(http.limits as object | undefined) } } };
}

let buildChecked: string | undefined;
/**
 * How the daemon runs here. When the workspace has a `build` script, `bin/camd.js` runs the built
 * JavaScript: `pnpm build` first (incremental), so dist/ matches the sources being measured. Without
 * one, `bin/camd.js` runs the TypeScript sources through tsx.
 */
export function daemonMode(): string {
  if (buildChecked) return buildChecked;
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (scripts.build) {
    console.log('(`pnpm build` so that dist/ matches the sources)');
    execFileSync('pnpm', ['build'], { cwd: ROOT, stdio: 'inherit' });
  }
  buildChecked = existsSync(join(ROOT, 'apps/daemon/dist')) ? 'built JS (dist/)' : 'TypeScript sources via tsx (no build step in this checkout)';
  return buildChecked;
}

export interface Camd {
  child: ChildProcess;
  pid: number;
  baseUrl: string;
  rtspPort: number;
  /** RTSPS (on by default) and the certificate camd issued itself (PEM file), which its clients verify against. */
  rtspsPort: number;
  caFile: string;
  /** Launch text of each stream's pipeline, by stream name (the latest start). */
  launches: Map<string, string>;
  output(): string;
  /** GET/PUT on the API as the bench user (Media_rw). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Per stream `fps` from GET /api/stats. */
  fps(): Promise<Record<string, number>>;
  /** Per stream state, fps, restarts and last error from GET /api/stats, one line. */
  describe(): Promise<string>;
  rtspUrl(path: string): string;
  stop(): Promise<void>;
}

/**
 * Starts the daemon on `config` (http, rtsp port and the bench user are filled in; the config's own
 * users are added) and resolves once /api/health answers 200, or with `ready: 'frames'` once every
 * stream delivers frames (/api/stats: for a config whose health is red on purpose, e.g. a publish
 * target nobody listens for).
 */
export async function startCamd(
  config: Record<string, unknown>,
  opts: {
    timeoutMs?: number;
    /** Node flags for the daemon (diagnostics: --trace-gc). */
    nodeArgs?: string[];
    ready?: 'health' | 'frames';
  } = {},
): Promise<Camd> {
  daemonMode();
  const dir = mkdtempSync(join(tmpdir(), 'camd-bench-'));
  const port = await freePort();
  const rtspPort = await freePort();
  // HTTPS and RTSPS on as by default, on free ports (their default ports are fixed).
  const rtspsPort = await freePort();
  const rtsp = { ...((config.rtsp as object | undefined) ?? {}), port: rtspPort, tls: { port: rtspsPort } };
  const full = {
    ...config,
    http: { tls: { port: await freePort() }, ...((config.http as object | undefined) ?? {}), host: '127.0.0.1', port },
    rtsp,
    users: [BENCH_USER, ...((config.users as object[] | undefined) ?? [])],
  };
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(full, null, 2));
  const args = ['--config', configPath, '--state-dir', join(dir, 'state')];
  // As a program, bin/camd.js's first line sets the daemon's Node flags and malloc arenas (as start.sh
  // and camd.service do); diagnostics with Node flags of their own run it through node.
  const [cmd, argv] = opts.nodeArgs?.length ? [process.execPath, [...opts.nodeArgs, CAMD_BIN, ...args]] : [CAMD_BIN, args];
  const child = spawnTracked(cmd, argv, { cwd: dir, env: { ...process.env, CAMD_LOG_LEVEL: 'debug' } });
  let out = '';
  const launches = new Map<string, string>();
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('starting pipeline')) continue;
      try {
        const j = JSON.parse(line) as { stream?: string; launch?: string };
        if (j.stream && j.launch) launches.set(j.stream, j.launch);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr!.on('data', (d) => (out += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const auth = 'Basic ' + Buffer.from(`${BENCH_USER.username}:${BENCH_USER.password}`).toString('base64');
  const api = (path: string, init: RequestInit = {}) =>
    fetch(baseUrl + path, { ...init, headers: { authorization: auth, 'content-type': 'application/json', ...(init.headers as object) } });
  const stop = async () => {
    await stopTree(child, 'SIGTERM', 15_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`camd exited with ${child.exitCode}:\n${out.slice(-3000)}`);
      try {
        if (opts.ready === 'frames') {
          const res = await api('/api/stats');
          const stats = res.status === 200 ? (Object.values(await res.json()) as Array<{ fps?: number }>) : [];
          const streams = stats.filter((v) => typeof v?.fps === 'number');
          if (streams.length > 0 && streams.every((v) => v.fps! > 0)) break;
        } else if ((await fetch(`${baseUrl}/api/health`)).status === 200) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`camd did not become healthy:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    child,
    pid: child.pid!,
    baseUrl,
    rtspPort,
    rtspsPort,
    caFile: join(dir, 'state', 'tls', 'cert.pem'),
    launches,
    output: () => out,
    api,
    async fps() {
      const s = (await (await api('/api/stats')).json()) as Record<string, { fps?: number }>;
      return Object.fromEntries(Object.entries(s).flatMap(([k, v]) => (typeof v?.fps === 'number' ? [[k, v.fps]] : [])));
    },
    async describe() {
      const s = (await (await api('/api/stats')).json()) as Record<
        string,
        { fps?: number; state?: string; restarts?: number; lastError?: string | null; clientCount?: number }
      >;
      return Object.entries(s)
        .filter(([, v]) => typeof v?.fps === 'number')
        .map(([k, v]) => `${k} ${v.state} ${v.fps} fps, ${v.clientCount ?? 0} clients, ${v.restarts ?? 0} restarts${v.lastError ? ` (${v.lastError})` : ''}`)
        .join('; ');
    },
    rtspUrl: (path: string) => `rtsp://${BENCH_USER.username}:${BENCH_USER.password}@127.0.0.1:${rtspPort}${path}`,
    stop,
  };
}

/** One RTSP/TCP reader that receives and discards (`-c copy -f null`): what a recorder or NVR does. */
export function startFfmpegReader(url: string): ChildProcess {
  return spawnTracked('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-c', 'copy', '-f', 'null', '-']);
}

/** Waits until `cond` holds (polled), or throws after `ms`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
