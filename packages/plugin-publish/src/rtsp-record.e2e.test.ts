import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { frameRate, recordFigures, recordServer, stopAll, targetStats } from './test-utils.js';

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
    const fps = await frameRate(server, 3000);
    expect(fps).toBeGreaterThan(12);
    expect(fps).toBeLessThan(18);

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
});
