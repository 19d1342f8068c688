import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, useStandins, type StandinCamera, type TestHost } from '@camd/core/testing';
import timestamp from '@camd/plugin-timestamp';
import webrtc from './index.js';
import { ensureBrowserNetwork, inboundCodec, inboundVideo, launchChromium, measureDecoding, newPage, playWithCodecs } from './test-browser.js';

/**
 * A camera's own H.264 in headless Chromium: passed through without re-encoding while no filter needs
 * raw frames; the timestamp overlay then makes camd decode and encode it, and the same viewer keeps
 * playing. The camera is a stand-in (@camd/core/testing: videotestsrc ! x264enc behind a device provider).
 */
const standins = useStandins();
const CAMERA: StandinCamera = {
  name: 'Stand-in H.264 camera',
  format: 'h264',
  modes: [{ width: 320, height: 240, rates: [15] }],
  controls: ['video_bitrate', 'h264_i_frame_period', 'force_key_frame'],
};

interface Stats {
  state: string;
  sourcePath: string;
  encoder: { element: string; passthrough: boolean };
  derived?: Array<{ codec: string; running: boolean }>;
}

describe('plugin-webrtc: a camera that encodes H.264 itself', () => {
  let h: TestHost;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    const cam = standins.plug('h264', CAMERA);
    // Baseline: the camera's own stream (x264 ultrafast) is constrained baseline, and so is camd's encoder
    // when the overlay needs it, so one WebRTC answer fits both.
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { derivedLingerMs: 1500, disconnectTimeoutMs: 2000 } }, timestamp],
      config: { streams: [testStream({ source: cam, profile: 'baseline' })] },
    });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
    standins.cleanup();
  });

  const stats = async () => ((await (await h.fetch('/api/stats')).json()) as Record<string, Stats>).stream1!;
  const onPath = (path: string) =>
    until(async () => ((await stats()).sourcePath === path && (await stats()).state === 'playing' ? stats() : undefined), 30_000, `stream1 ${path}`);

  it('plays passthrough in Chromium; the timestamp filter forces decode + encode and the viewer keeps playing', async () => {
    // The overlay (text and time code) is on by default: decoded, overlaid, encoded. With both off no
    // filter needs raw frames: the camera's own H.264 goes through.
    expect((await onPath('decode')).encoder).toMatchObject({ element: 'x264enc', passthrough: false });
    expect((await putState(h, 'timecodeEnabled', false)).status).toBe(200);
    expect((await putState(h, 'timestampEnabled', false)).status).toBe(200);
    expect((await onPath('passthrough')).encoder).toMatchObject({ element: 'camdstandinsrc', passthrough: true });

    const { context, page } = await newPage(chromium.browser, h.users.viewer);
    try {
      await page.goto(`${h.baseUrl}/`);
      const passthrough = await measureDecoding(page, undefined, 2000);
      expect([passthrough.width, passthrough.height]).toEqual([320, 240]);
      expect(passthrough.fps).toBeGreaterThan(5);

      expect((await putState(h, 'timestampEnabled', true)).status).toBe(200);
      expect((await onPath('decode')).encoder).toMatchObject({ element: 'x264enc', passthrough: false });
      // The same peer goes on decoding the re-encoded stream.
      const at = (await inboundVideo(page))!.framesDecoded;
      await until(async () => ((await inboundVideo(page))?.framesDecoded ?? 0) > at + 15, 20_000, 'frames decoded after the switch');
    } finally {
      await context.close();
    }
  });

  it('a viewer without H.264 (VP8 only) makes camd decode the camera while it watches; passthrough again after', async () => {
    expect((await putState(h, 'timestampEnabled', false)).status).toBe(200);
    await onPath('passthrough');
    const { context, page } = await newPage(chromium.browser, h.users.viewer);
    try {
      await page.goto(`${h.baseUrl}/api/health`);
      await playWithCodecs(page, ['video/VP8']);
      // The derived VP8 encoder reads the stream's pictures: the camera's H.264 is decoded for it.
      expect((await onPath('decode')).encoder).toMatchObject({ passthrough: false });
      const m = await measureDecoding(page, 'window.pc', 1000);
      expect([m.width, m.height]).toEqual([320, 240]);
      expect(await inboundCodec(page)).toBe('video/VP8');
    } finally {
      await context.close();
    }
    // Its last viewer gone (and the linger over), the camera's own H.264 goes through again.
    await onPath('passthrough');
    expect(h.recentLog()).toMatch(/passing the camera's own stream through again/);
  });

  it('VP8 and VP9 viewers at once: the VP8 one leaving keeps the camera decoded for the VP9 one, which goes on playing', async () => {
    expect((await putState(h, 'timecodeEnabled', false)).status).toBe(200);
    expect((await putState(h, 'timestampEnabled', false)).status).toBe(200);
    await onPath('passthrough');
    const vp8 = await newPage(chromium.browser, h.users.viewer);
    const vp9 = await newPage(chromium.browser, h.users.viewer);
    try {
      for (const [v, mime] of [
        [vp8, 'video/VP8'],
        [vp9, 'video/VP9'],
      ] as const) {
        await v.page.goto(`${h.baseUrl}/api/health`);
        await playWithCodecs(v.page, [mime]);
        await until(async () => (await inboundCodec(v.page)) === mime, 20_000, `${mime} decoding`);
      }
      expect((await stats()).sourcePath).toBe('decode');
      await vp8.context.close();
      // After the VP8 encoding's linger it stops; the VP9 one still reads the stream's pictures.
      await until(async () => ((await stats()).derived ?? []).some((d) => d.codec === 'vp8' && !d.running), 20_000, 'VP8 encoding stopped');
      const at = (await inboundVideo(vp9.page, 'window.pc'))!.framesDecoded;
      await until(async () => ((await inboundVideo(vp9.page, 'window.pc'))?.framesDecoded ?? 0) > at + 15, 20_000, 'VP9 frames after VP8 left');
      expect((await stats()).sourcePath).toBe('decode');
    } finally {
      await vp8.context.close();
      await vp9.context.close();
    }
    await onPath('passthrough');
  });
});
