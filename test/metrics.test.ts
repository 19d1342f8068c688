import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
// Core with two real plugins (RTSP for a transport with a real client, ABR for its target figure).
import { definePlugin, parseConfig, PLUGIN_API_VERSION } from '../packages/core/src/index.js';
import { basicAuth, createTestHost, freePort, TEST_USERS, until, type TestHost } from '../packages/core/src/testing/index.js';
import rtsp from '../packages/plugin-rtsp/src/index.js';
import abr from '../packages/plugin-abr/src/index.js';

let host: TestHost | undefined;
let prometheus: ChildProcess | undefined;
let promDir: string | undefined;
afterEach(async () => {
  prometheus?.kill('SIGKILL');
  await host?.close();
  if (promDir) rmSync(promDir, { recursive: true, force: true });
  host = prometheus = promDir = undefined;
});

const run = promisify(execFile);
/** What Prometheus sends with `authorization: { credentials }` (and camd's config holds as metrics.bearerToken). */
const TOKEN = 'scrape-7f3c9a1e5b2d4068';

/** One sample of the text format: `name{a="x",b="y"} value`, labels matched as given (a subset). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

function promtool(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
    p.stdin!.end(text);
  });
}

describe('GET /metrics (Prometheus)', () => {
  it('passes promtool, and reads back stream, transport, ABR and process figures of a real pipeline', async () => {
    const rtspPort = await freePort();
    host = await createTestHost({ plugins: [{ def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } }, abr] });
    const scrape = async () => {
      // A credential, as by default: Basic of a Media_r user.
      const r = await fetch(`${host!.baseUrl}/metrics`, { headers: { authorization: basicAuth(TEST_USERS.viewer) } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      return r.text();
    };
    await expect.poll(async () => sample(await scrape(), 'camd_stream_fps', { stream: 'stream1' }) ?? 0, { timeout: 15_000 }).toBeGreaterThan(0);
    // Two keyframes (one a second) give the interval.
    await expect
      .poll(async () => sample(await scrape(), 'camd_stream_keyframe_interval_seconds', { stream: 'stream1' }) ?? 0, { timeout: 5_000 })
      .toBeGreaterThan(0);

    // A real RTSP reader for a few seconds: it shows as a client of the rtsp transport.
    const reader = spawn(
      'ffmpeg',
      [
        '-v',
        'error',
        '-rtsp_transport',
        'tcp',
        '-i',
        `rtsp://viewer:${TEST_USERS.viewer.password}@127.0.0.1:${rtspPort}/stream1`,
        '-t',
        '8',
        '-f',
        'null',
        '-',
      ],
      { stdio: 'ignore' },
    );
    try {
      await expect.poll(async () => sample(await scrape(), 'camd_transport_clients', { stream: 'stream1', transport: 'rtsp' }), { timeout: 10_000 }).toBe(1);
      const text = await scrape();
      const lint = await promtool(text);
      expect(lint, lint.out).toEqual({ code: 0, out: '' });

      const s = { stream: 'stream1' };
      expect(sample(text, 'camd_stream_up', s)).toBe(1);
      expect(sample(text, 'camd_stream_clients', s)).toBe(1);
      expect(sample(text, 'camd_stream_bitrate_bytes_per_second', s)).toBeGreaterThan(0);
      expect(sample(text, 'camd_stream_keyframe_interval_seconds', s)).toBeGreaterThan(0);
      expect(sample(text, 'camd_stream_restarts_total', s)).toBe(0);
      expect(sample(text, 'camd_stream_errors_total', s)).toBe(0);
      expect(sample(text, 'camd_transport_client_bytes', { ...s, transport: 'rtsp' })).toBeGreaterThanOrEqual(0);
      expect(sample(text, 'camd_stream_abr_target_bitrate_bytes_per_second', s)).toBe(host.host.state.get<number>('streamBitrate') / 8);
      expect(sample(text, 'camd_stream_target_bitrate_bytes_per_second', s)).toBe(500_000 / 8);
      expect(sample(text, 'camd_stream_abr_enabled', s)).toBe(1);
      expect(sample(text, 'camd_healthy')).toBe(1);
      expect(sample(text, 'camd_stream_info', { ...s, path: '/stream1', codec: 'h264' })).toBe(1);

      // The daemon (here: the test process) and its media process, from /proc.
      const [mediaPid] = (host.host.media as { mediaPids?(): number[] }).mediaPids!();
      expect(sample(text, 'camd_process_cpu_seconds_total', { process: 'daemon', pid: String(process.pid) })).toBeGreaterThan(0);
      expect(sample(text, 'camd_process_resident_memory_bytes', { process: 'daemon' })).toBeGreaterThan(20 * 2 ** 20);
      expect(sample(text, 'camd_process_cpu_seconds_total', { process: 'media', pid: String(mediaPid) })).toBeGreaterThan(0);
      expect(sample(text, 'camd_process_resident_memory_bytes', { process: 'media', pid: String(mediaPid) })).toBeGreaterThan(10 * 2 ** 20);
    } finally {
      reader.kill('SIGKILL');
    }
    // The reader gone, the transport stays listed with 0 clients.
    await expect.poll(async () => sample(await scrape(), 'camd_transport_clients', { stream: 'stream1', transport: 'rtsp' }), { timeout: 10_000 }).toBe(0);
  });

  it('needs a credential by default: Basic or Digest of a Media_r user, or the configured bearer token', async () => {
    let pluginConfig: unknown;
    const reader = definePlugin({ name: 'test-config-reader', apiVersion: PLUGIN_API_VERSION, setup: (ctx) => void (pluginConfig = ctx.config) });
    // Four wrong credentials in a row: past the brute-force guard's free failures (see brute-force.test.ts).
    host = await createTestHost({ media: false, config: { metrics: { bearerToken: TOKEN }, auth: { backoffAfter: 10 } }, plugins: [reader] });
    const url = `${host.baseUrl}/metrics`;
    const status = async (authorization?: string) => (await fetch(url, authorization ? { headers: { authorization } } : {})).status;
    expect(await status()).toBe(401);
    expect(await status(basicAuth(TEST_USERS.nobody))).toBe(403);
    expect(await status(basicAuth({ username: 'viewer', password: 'wrong' }))).toBe(401);
    const ok = await fetch(url, { headers: { authorization: basicAuth(TEST_USERS.viewer) } });
    expect(ok.status).toBe(200);
    expect(sample(await ok.text(), 'camd_stream_up', { stream: 'stream1' })).toBe(0);
    // Digest, as curl answers the challenge.
    const curl = async (...args: string[]) => (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args, url], { timeout: 10_000 })).stdout;
    expect(await curl('--digest', '-u', `viewer:${TEST_USERS.viewer.password}`)).toBe('200');
    expect(await curl('--digest', '-u', 'viewer:wrong')).toBe('401');
    // The bearer token, compared in constant time; a wrong one is refused (a failed login for the
    // brute-force guard, logged without the token) and never logged.
    expect(await status(`Bearer ${TOKEN}`)).toBe(200);
    expect(await curl('--oauth2-bearer', TOKEN)).toBe('200');
    const wrong = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'CAMD_ERR_AUTH_REQUIRED', message: expect.stringMatching(/bearer token is not the one configured/) });
    expect(await status(`Bearer ${TOKEN.slice(0, -1)}`)).toBe(401);
    expect(host.recentLog()).toMatch(/"user":"\(metrics bearer token\)".*"msg":"auth: login failed"/);
    expect(host.recentLog()).not.toContain(TOKEN.slice(0, 12));
    // Plugins never see it in the config they are given.
    expect(pluginConfig).toMatchObject({ metrics: {} });
    expect(JSON.stringify(pluginConfig)).not.toContain(TOKEN);
  });

  it('without a token configured, a bearer is refused and Basic still works', async () => {
    host = await createTestHost({ media: false });
    expect((await host.fetch('/metrics', { user: null })).status).toBe(401);
    expect((await host.fetch('/metrics', { user: null, headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
    expect((await host.fetch('/metrics', { user: TEST_USERS.viewer })).status).toBe(200);
  });

  it('is open with metrics.public: true; the old metrics.auth keeps its meaning (auth: false opens it, with a warning)', async () => {
    host = await createTestHost({ media: false, config: { metrics: { public: true } } });
    expect((await host.fetch('/metrics', { user: null })).status).toBe(200);
    await host.close();
    host = await createTestHost({ media: false, config: { metrics: { auth: false } } });
    expect((await host.fetch('/metrics', { user: null })).status).toBe(200);
    expect(host.recentLog()).toMatch(/metrics.auth: false is deprecated.*metrics.public: true/);
    await host.close();
    host = await createTestHost({ media: false, config: { metrics: { auth: true } } });
    expect((await host.fetch('/metrics', { user: null })).status).toBe(401);
    expect((await host.fetch('/metrics', { user: TEST_USERS.viewer })).status).toBe(200);

    expect(() => parseConfig({ metrics: { auth: 'yes' } })).toThrow('config.metrics.auth: must be boolean');
    expect(() => parseConfig({ metrics: { open: true } })).toThrow('config.metrics.open: unknown field');
    expect(() => parseConfig({ metrics: { bearerToken: 'short' } })).toThrow('config.metrics.bearerToken: must NOT have fewer than 16 characters');
    expect(() => parseConfig({ metrics: { bearerToken: 'has a space in it, 16+' } })).toThrow(/config.metrics.bearerToken: must match pattern/);
    expect(() => parseConfig({ metrics: { public: true, bearerToken: TOKEN } })).toThrow('config.metrics: public: true needs no bearerToken: choose one');
    expect(() => parseConfig({ metrics: { public: true, auth: true } })).toThrow('config.metrics: public: true needs no auth: choose one');
  });

  it('is scraped by a real Prometheus with basic_auth and with authorization (bearer); a wrong token and no credential are refused', async () => {
    host = await createTestHost({ media: false, config: { metrics: { bearerToken: TOKEN } } });
    promDir = mkdtempSync(join(tmpdir(), 'camd-prom-'));
    const target = `127.0.0.1:${host.httpPort}`;
    const job = (name: string, auth: string) => `  - job_name: ${name}\n    static_configs: [{ targets: ["${target}"] }]\n${auth}`;
    // As the README's example: basic_auth of a Media_r user, or the bearer token.
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        job('basic', `    basic_auth: { username: viewer, password: ${TEST_USERS.viewer.password} }\n`),
        job('bearer', `    authorization: { credentials: ${TOKEN} }\n`),
        job('wrong', `    authorization: { credentials: ${TOKEN}-wrong }\n`),
        job('anonymous', ''),
      ].join('\n'),
    );
    const promPort = await freePort();
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(promDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=error',
      ],
      { stdio: 'ignore' },
    );
    interface Target {
      labels: { job: string };
      health: string;
      lastError: string;
    }
    const targets = async () => {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`).catch(() => undefined);
      return r?.ok ? ((await r.json()) as { data: { activeTargets: Target[] } }).data.activeTargets : [];
    };
    const byJob = await until(
      async () => {
        const t = await targets();
        const m = Object.fromEntries(t.map((x) => [x.labels.job, x]));
        return ['basic', 'bearer', 'wrong', 'anonymous'].every((j) => m[j] && m[j].health !== 'unknown') ? m : undefined;
      },
      30_000,
      'Prometheus to scrape each job once',
    );
    expect(byJob.basic).toMatchObject({ health: 'up', lastError: '' });
    expect(byJob.bearer).toMatchObject({ health: 'up', lastError: '' });
    expect(byJob.wrong).toMatchObject({ health: 'down', lastError: expect.stringMatching(/401/) });
    expect(byJob.anonymous).toMatchObject({ health: 'down', lastError: expect.stringMatching(/401/) });
    // The figures arrived: Prometheus answers a query over them.
    const query = async () =>
      (
        (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=camd_stream_up`)).json()) as {
          data: { result: Array<{ metric: { job: string } }> };
        }
      ).data.result;
    await until(async () => new Set((await query()).map((r) => r.metric.job)).size === 2, 15_000, 'camd_stream_up from both jobs');
    expect(new Set((await query()).map((r) => r.metric.job))).toEqual(new Set(['basic', 'bearer']));
    expect(host.recentLog()).not.toContain(TOKEN);
  });
});
