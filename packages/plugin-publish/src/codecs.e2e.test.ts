import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, putState, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { nginxRtmp, probe, recordCodecs, recordFigures, recordServer, srtRelay, stopAll, targetStats } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
  await stopAll();
});

const target = async (h: TestHost) => (await targetStats(h))[0];

describe('publishing follows the stream’s codec', () => {
  it('RTSP RECORD: h264 → h265 → h264 is announced again each time; gst-rtsp-server decodes each codec at 320x240; no failure counted', async () => {
    const port = await freePort();
    const server = await recordServer(port, '/cam', undefined, { anyCodec: true });
    host = await createTestHost({ plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtsp://127.0.0.1:${port}/cam` }] } }] });
    const h = host;
    await until(() => (recordCodecs(server).by.H264 ?? 0) > 15, 20_000, 'the server to decode H.264');
    for (const [codec, name] of [
      ['h265', 'H265'],
      ['h264', 'H264'],
    ] as const) {
      const before = recordCodecs(server).by[name] ?? 0;
      expect((await putState(h, 'videoEncoder', codec)).status).toBe(200);
      await until(() => recordCodecs(server).codec === name && (recordCodecs(server).by[name] ?? 0) > before + 15, 30_000, `the server to decode ${name}`);
      expect(recordFigures(server)).toMatchObject({ width: 320, height: 240 });
      expect(await target(h)).toMatchObject({ state: 'publishing', codec, errors: 0, lastError: null });
    }
  }, 90_000);

  it('RTMP: H.265 puts the target in `unsupported` with the reason, without retries; back on H.264 it publishes again by itself', async () => {
    const port = await freePort();
    await nginxRtmp(port);
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtmp://127.0.0.1:${port}/live/cam` }], confirmMs: 1000 } }],
    });
    const h = host;
    await until(async () => (await target(h))?.state === 'publishing', 20_000, 'the RTMP target to publish');
    expect((await putState(h, 'videoEncoder', 'h265')).status).toBe(200);
    await until(async () => (await target(h))?.state === 'unsupported', 20_000, 'the target to refuse H.265');
    const during = (await target(h))!;
    expect(during).toMatchObject({ codec: 'h265', lastError: 'RTMP carries H.264 only; stream1 is H.265', errors: 0, retryInMs: null });
    const health = (await (await h.fetch('/api/health')).json()) as { checks: { name: string; healthy: boolean; detail?: string }[] };
    expect(health.checks.find((c) => c.name.startsWith('publish stream1'))).toMatchObject({ healthy: false, detail: during.lastError });
    // No retry loop: nothing changes while the stream stays H.265.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await target(h)).toMatchObject({ state: 'unsupported', errors: 0, reconnects: during.reconnects, framesSent: during.framesSent });

    expect((await putState(h, 'videoEncoder', 'h264')).status).toBe(200);
    await until(async () => (await target(h))?.state === 'publishing', 30_000, 'the target to publish H.264 again');
    expect(await target(h)).toMatchObject({ codec: 'h264', lastError: null, errors: 0 });
    const got = await probe(`rtmp://127.0.0.1:${port}/live/cam`, 2);
    expect(got).toMatchObject({ codec: 'h264', width: 320, height: 240 });
    expect(got.frames).toBeGreaterThan(5);
  }, 90_000);

  it('SRT: H.265 restarts the child with h265parse (ffprobe reads HEVC back); MJPEG is refused like RTMP refuses H.265', async () => {
    const [inPort, outPort] = [await freePort(), await freePort()];
    srtRelay(inPort, outPort);
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `srt://127.0.0.1:${inPort}` }], confirmMs: 1000 } }],
    });
    const h = host;
    await until(async () => (await target(h))?.state === 'publishing', 20_000, 'the SRT target to publish');
    expect((await putState(h, 'videoEncoder', 'h265')).status).toBe(200);
    await until(async () => (await target(h))?.codec === 'h265' && (await target(h))?.state === 'publishing', 30_000, 'the target to publish H.265');
    const got = await probe(`srt://127.0.0.1:${outPort}?mode=caller`, 3);
    expect(got).toMatchObject({ codec: 'hevc', width: 320, height: 240 });
    expect(got.frames).toBeGreaterThan(5);
    expect(await target(h)).toMatchObject({ errors: 0, lastError: null });

    expect((await putState(h, 'videoEncoder', 'mjpeg')).status).toBe(200);
    await until(async () => (await target(h))?.state === 'unsupported', 20_000, 'the target to refuse MJPEG');
    expect(await target(h)).toMatchObject({ codec: 'mjpeg', lastError: 'SRT (MPEG-TS) carries H.264 and H.265 only; stream1 is MJPEG', errors: 0 });
  }, 90_000);
});
