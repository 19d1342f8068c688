import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { frameRate, listening, recordFigures, recordServer, startProc, stopAll, streamFps, targetStats } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
  await stopAll();
});

describe('RTSP RECORD to gst-rtsp-server', () => {
  it('publishes over TCP with Digest: the server decodes 320x240 at the stream rate; stats and health show it; no password anywhere', async () => {
    const port = await freePort();
    const server = await recordServer(port, '/cam', { user: 'pub', password: 's3cret-pw' });
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://pub:s3cret-pw@127.0.0.1:${port}/cam` }] } }],
    });
    await until(() => recordFigures(server).frames > 30, 20_000, 'the server to decode frames');
    expect(recordFigures(server)).toMatchObject({ width: 320, height: 240 });
    // At the stream's rate: what the server decodes per second matches what the encoder produces
    // (the stream is 15 fps; a loaded test machine may produce fewer, so compare with the stream's own figure).
    const [fps, produced] = await Promise.all([frameRate(server, 3000), streamFps(host)]);
    expect(produced).toBeGreaterThan(8);
    expect(fps).toBeGreaterThan(produced * 0.75);
    expect(fps).toBeLessThan(produced * 1.25);

    const [t] = await targetStats(host);
    expect(t).toMatchObject({ protocol: 'rtsp', transport: 'tcp', state: 'publishing', reconnects: 0, lastError: null });
    expect(t!.url).toBe(`rtsp://pub:***@127.0.0.1:${port}/cam`);
    expect(t!.bytesSent).toBeGreaterThan(10_000);
    expect(t!.bitrate).toBeGreaterThan(50_000);
    expect(Date.parse(t!.connectedSince!)).toBeLessThanOrEqual(Date.now());

    const health = (await (await host.fetch('/api/health')).json()) as { checks: { name: string; healthy: boolean }[] };
    expect(health.checks.find((c) => c.name.startsWith('publish stream1'))).toMatchObject({ healthy: true });
    for (const path of ['/api/stats', '/api/health', '/api/state', '/api/state/publishTargets']) {
      expect(await (await host.fetch(path)).text(), path).not.toContain('s3cret-pw');
    }
    const viewer = await host.fetch('/api/state/publishTargets', { user: host.users.viewer });
    expect(viewer.status).toBe(200);
    expect(((await viewer.json()) as { value: { url: string }[] }).value[0]!.url).toBe(`rtsp://pub:***@127.0.0.1:${port}/cam`);
  });

  it('publishes RTP over UDP when the URL asks (?transport=udp)', async () => {
    const port = await freePort();
    const server = await recordServer(port, '/cam');
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://127.0.0.1:${port}/cam?transport=udp` }] } }],
    });
    await until(() => recordFigures(server).frames > 30, 20_000, 'the server to decode frames sent over UDP');
    expect(recordFigures(server)).toMatchObject({ width: 320, height: 240 });
    const [t] = await targetStats(host);
    expect(t).toMatchObject({ transport: 'udp', state: 'publishing', url: `rtsp://127.0.0.1:${port}/cam?transport=udp` });
  });

  it('a refused login gives a clear lastError and backs off (1 s, 2 s, ...) instead of retrying in a loop', async () => {
    const port = await freePort();
    const server = await recordServer(port, '/cam', { user: 'pub', password: 'right' });
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://pub:wrong-pw@127.0.0.1:${port}/cam` }] } }],
    });
    const t = await until(async () => (await targetStats(host!)).find((x) => x.errors >= 2), 15_000, 'two refusals');
    expect(t.state).toBe('backoff');
    expect(t.lastError).toMatch(/ANNOUNCE: the server refused the credentials \(401/);
    expect(t.lastError).not.toContain('wrong-pw');
    expect(t.retryInMs).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2500));
    // 1 s + 2 s + 5 s of backoff: at most 3 attempts in this time, not hundreds.
    expect((await targetStats(host))[0]!.errors).toBeLessThanOrEqual(3);
    expect(recordFigures(server).frames).toBe(0);
    const health = (await (await host.fetch('/api/health')).json()) as { healthy: boolean; checks: { name: string; healthy: boolean; detail?: string }[] };
    expect(health.checks.find((c) => c.name.startsWith('publish stream1'))).toMatchObject({
      healthy: false,
      detail: expect.stringMatching(/refused the credentials/),
    });
  });

  it('an unreachable port is reported and retried with backoff; a server that comes up later gets the stream', async () => {
    const port = await freePort();
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://127.0.0.1:${port}/cam` }] } }],
    });
    const t = await until(async () => (await targetStats(host!)).find((x) => x.errors >= 1), 15_000, 'a failed connect');
    expect(t).toMatchObject({ state: 'backoff', lastError: expect.stringMatching(/ECONNREFUSED/) });
    const server = await recordServer(port, '/cam');
    // Within the backoff (at most 5 s after the third failure) the target connects.
    await until(() => recordFigures(server).frames > 15, 20_000, 'frames after the server came up');
    const after = (await targetStats(host))[0]!;
    expect(after).toMatchObject({ state: 'publishing', lastError: null });
    expect(after.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('reconnects after the server restarts, and frames resume', async () => {
    const port = await freePort();
    let server = await recordServer(port, '/cam');
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://127.0.0.1:${port}/cam` }] } }],
    });
    await until(() => recordFigures(server).frames > 15, 20_000, 'frames before the restart');
    await server.stop();
    await until(async () => (await targetStats(host!))[0]?.state === 'backoff', 10_000, 'the target to notice');
    server = await recordServer(port, '/cam');
    await until(() => recordFigures(server).frames > 15, 15_000, 'frames after the restart');
    const t = (await targetStats(host))[0]!;
    expect(t.state).toBe('publishing');
    expect(t.reconnects).toBeGreaterThanOrEqual(1);
    expect(t.lastError).toBeNull();
  });

  it('a new picture size is announced again at once (no failure counted) and the server decodes the new size', async () => {
    const port = await freePort();
    const server = await recordServer(port, '/cam');
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://127.0.0.1:${port}/cam` }] } }],
    });
    await until(() => recordFigures(server).width === 320, 20_000, 'frames at 320x240');
    const res = await host.fetch('/api/state/streamResolution', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: '352x288' }),
    });
    expect(res.status).toBe(200);
    await until(() => recordFigures(server).width === 352, 30_000, 'frames at 352x288');
    expect(recordFigures(server).height).toBe(288);
    const t = (await targetStats(host))[0]!;
    expect(t).toMatchObject({ state: 'publishing', errors: 0, lastError: null });
  });
});

describe('RTSP RECORD to ffmpeg -rtsp_flags listen', () => {
  it('ffmpeg receives and decodes the stream at 320x240, 15 fps', async () => {
    const port = await freePort();
    const ff = startProc('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'info',
      '-nostdin',
      '-rtsp_flags',
      'listen',
      '-i',
      `rtsp://127.0.0.1:${port}/live`,
      '-fps_mode',
      'passthrough',
      '-f',
      'null',
      '-progress',
      'pipe:1',
      '-stats_period',
      '0.5',
      '-',
    ]);
    // ffmpeg takes one publisher and exits when it leaves: start the target only once it listens.
    await until(() => listening(port), 10_000, 'ffmpeg to listen');
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://127.0.0.1:${port}/live` }] } }],
    });
    const stream = await ff.waitFor(/Stream #0:0.*Video: h264.* (\d+)x(\d+)/, 20_000, 'ffmpeg to see the stream').catch(async (err) => {
      throw new Error(
        `${(err as Error).message}; target: ${JSON.stringify(await targetStats(host!))}; ffmpeg's first lines: ${ff.lines.slice(0, 20).join(' | ')}; its last: ${ff.lines.slice(-10).join(' | ')}`,
      );
    });
    expect([Number(stream[1]), Number(stream[2])]).toEqual([320, 240]);
    // Past the start (which may carry the cached GOP in a burst), count decoded frames over 3 s.
    await until(async () => Number((await ff.waitFor(/^frame=(\d+)/, 10_000))[1]) > 20, 10_000, 'ffmpeg to decode frames');
    const count = async () => Number((await ff.waitFor(/^frame=(\d+)/))[1]);
    const [first, t0] = [await count(), Date.now()];
    const produced = await streamFps(host);
    await new Promise((r) => setTimeout(r, 3000));
    const fps = ((await count()) - first) / ((Date.now() - t0) / 1000);
    expect(fps).toBeGreaterThan(produced * 0.7);
    expect(fps).toBeLessThan(produced * 1.3);
    expect((await targetStats(host))[0]).toMatchObject({ state: 'publishing' });
  });
});
