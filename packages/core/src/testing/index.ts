import pino from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CamdHost, type HostOptions } from '../host.js';
import type { CamdConfig, StreamConfig } from '../config.js';
import { createLogger } from '../logger.js';
import type { Permission } from '../auth/permissions.js';

export * from './standins.js';

export interface TestCredentials {
  readonly username: string;
  readonly password: string;
  readonly permissions: Permission[];
}

/** Users every test host has: an administrator, an operator (Media_rw), a viewer (Media_r), and one without media rights. */
export const TEST_USERS = Object.freeze({
  admin: { username: 'admin', password: 'admin-secret', permissions: ['Admin'] as Permission[] },
  operator: { username: 'operator', password: 'operator-secret', permissions: ['Media_rw'] as Permission[] },
  viewer: { username: 'viewer', password: 'viewer-secret', permissions: ['Media_r'] as Permission[] },
  nobody: { username: 'nobody', password: 'nobody-secret', permissions: [] as Permission[] },
});

/** A small, cheap stream for tests whose content does not matter (320x240@15, 500 kbit/s). */
export function testStream(overrides: Partial<StreamConfig> = {}): StreamConfig {
  return { path: '/stream1', resolution: '320x240', fps: 15, bitrate: 500_000, profile: 'main', preset: 'ultrafast', source: 'videotestsrc', ...overrides };
}

export interface TestHostOptions {
  /** Plugins to load: definitions, or `{ def, options }`. */
  plugins?: HostOptions['plugins'];
  /** Merged over the defaults (one test stream, HTTP on a free loopback port, the TEST_USERS). */
  config?: Partial<CamdConfig>;
  /** Real pipelines (default true). */
  media?: boolean;
  /** Reuse a state dir (e.g. to test persistence across restarts); otherwise a fresh temp dir. */
  stateDir?: string;
  /** Log level for the host (default: silent, or CAMD_TEST_LOG). */
  logLevel?: string;
}

export interface TestHost {
  readonly host: CamdHost;
  readonly baseUrl: string;
  readonly httpPort: number;
  readonly stateDir: string;
  readonly users: typeof TEST_USERS;
  /** `fetch` against the host with HTTP Basic credentials of `user` (none with `user: null`). */
  fetch(path: string, init?: RequestInit & { user?: TestCredentials | null }): Promise<Response>;
  /**
   * Fails a stream's pipeline as a camera or GStreamer fault would: the daemon restarts it with
   * backoff. Returns false when the stream has no running pipeline (e.g. `media: false`).
   */
  killPipeline(stream: string): boolean;
  /**
   * SIGKILLs the media process(es), as a crash would: every pipeline restarts with backoff and
   * clients resume. Returns the pids killed (none with `media: false`).
   */
  killMediaProcess(): number[];
  /**
   * The host's last log lines (info and above, up to 400), kept whether or not CAMD_TEST_LOG prints
   * them: for a failing test's message, since a flaky failure seldom comes back with logging on.
   */
  recentLog(): string;
  /** Stops the host and removes the temp state dir it created. */
  close(): Promise<void>;
}

const RECENT_LOG_LINES = 400;

/** A pino destination that keeps the last lines, and prints those at `printLevel` or above (none when silent). */
function recentLogDestination(printLevel: string): { stream: { write(line: string): void }; text(): string } {
  const lines: string[] = [];
  const printFrom = pino.levels.values[printLevel] ?? Number.POSITIVE_INFINITY;
  return {
    stream: {
      write(line: string) {
        lines.push(line);
        if (lines.length > RECENT_LOG_LINES) lines.shift();
        if (printFrom !== Number.POSITIVE_INFINITY && ((JSON.parse(line) as { level: number }).level ?? 0) >= printFrom) process.stdout.write(line);
      },
    },
    text: () => lines.join(''),
  };
}

export function basicAuth(c: { username: string; password: string }): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A TCP relay on 127.0.0.1 whose connections reach `port` on 127.0.0.1 from `localAddress` (e.g.
 * 127.0.0.2): a real client that cannot choose its source address (ffprobe, onvif-nvt) reaches the
 * daemon as another host would, while an attacker in the same test uses 127.0.0.1. It moves bytes
 * only, in both directions, and closes each side when the other closes.
 */
export async function relayFrom(localAddress: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect({ port, host: '127.0.0.1', localAddress });
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A real camd host for tests (yours too, if you write a plugin): real state store, users, HTTP
 * server on a free loopback port, real pipelines from `videotestsrc`, and the plugins you pass.
 */
export async function createTestHost(opts: TestHostOptions = {}): Promise<TestHost> {
  const ownDir = !opts.stateDir;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'camd-test-'));
  const config: CamdConfig = {
    users: Object.values(TEST_USERS).map((u) => ({ ...u, permissions: [...u.permissions] })),
    streams: [testStream()],
    ...opts.config,
    // No HTTPS/RTSPS unless a test asks (`http: { tls: { port: 0 } }`): their default ports are fixed.
    http: { host: '127.0.0.1', port: 0, tls: false, ...opts.config?.http },
  };
  const printLevel = opts.logLevel ?? process.env.CAMD_TEST_LOG ?? 'silent';
  const recent = recentLogDestination(printLevel);
  // Info and above are kept; a finer level asked for is kept (and printed) too.
  const logger = createLogger({ level: printLevel === 'trace' || printLevel === 'debug' ? printLevel : 'info', destination: recent.stream });
  let host: CamdHost | undefined;
  try {
    host = await CamdHost.create({
      config,
      stateDir,
      logger,
      plugins: opts.plugins,
      media: opts.media,
      announceAdmin: () => undefined,
      announceCertificate: () => undefined,
    });
    await host.start();
  } catch (err) {
    // A start that failed half-way (a port in use) leaves nothing listening or running.
    await host?.stop().catch(() => undefined);
    if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${host.httpPort}`;
  return {
    host,
    baseUrl,
    httpPort: host.httpPort,
    stateDir,
    users: TEST_USERS,
    fetch(path, init = {}) {
      const { user = TEST_USERS.admin, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (user) headers.set('authorization', basicAuth(user));
      return fetch(baseUrl + path, { ...rest, headers });
    },
    recentLog: recent.text,
    killPipeline(stream) {
      return (host.media as { failPipeline?(name: string, message?: string): boolean }).failPipeline?.(stream, 'pipeline killed by the test') ?? false;
    },
    killMediaProcess() {
      const pids = (host.media as { mediaPids?(): number[] }).mediaPids?.() ?? [];
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      return pids;
    },
    async close() {
      await host.stop();
      if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `check` every 100 ms until it returns a truthy value, and resolves with that value. Rejects
 * with "timed out after <timeoutMs> ms waiting for <what>" when the time is up; an error thrown by
 * `check` rejects at once. `check` may be async (e.g. read `/api/stats`).
 */
export async function until<T>(check: () => T | Promise<T>, timeoutMs = 20_000, what = 'a condition'): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `PUT /api/state/:key` with `{ value }` as JSON, as `user` (default: the test admin; `null`: no
 * credentials), on a test host or any daemon with a `baseUrl`. Resolves with the response, whatever its status.
 */
export function putState(
  target: { readonly baseUrl: string },
  key: string,
  value: unknown,
  user: { readonly username: string; readonly password: string } | null = TEST_USERS.admin,
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (user) headers.authorization = basicAuth(user);
  return fetch(`${target.baseUrl}/api/state/${key}`, { method: 'PUT', headers, body: JSON.stringify({ value }) });
}
export { encodedTestFrames } from './encoded-frames.js';
