import { execFile, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
// Core with two real plugins (RTSP for a transport with a real client, ABR for its target figure).
import { parseConfig } from '../packages/core/src/index.js';
import { createTestHost, freePort, TEST_USERS, type TestHost } from '../packages/core/src/testing/index.js';
import rtsp from '../packages/plugin-rtsp/src/index.js';
import abr from '../packages/plugin-abr/src/index.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

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
      const r = await fetch(`${host!.baseUrl}/metrics`); // no credentials by default
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

  it('needs Media_r credentials with metrics.auth: true', async () => {
    host = await createTestHost({ media: false, config: { metrics: { auth: true } } });
    expect((await host.fetch('/metrics', { user: null })).status).toBe(401);
    expect((await host.fetch('/metrics', { user: TEST_USERS.nobody })).status).toBe(403);
    const ok = await host.fetch('/metrics', { user: TEST_USERS.viewer });
    expect(ok.status).toBe(200);
    expect(sample(await ok.text(), 'camd_stream_up', { stream: 'stream1' })).toBe(0);
    expect(() => parseConfig({ metrics: { auth: 'yes' } })).toThrow('config.metrics.auth: must be boolean');
    expect(() => parseConfig({ metrics: { open: true } })).toThrow('config.metrics.open: unknown field');
  });
});
