import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createTestHost, putState, testStream, until, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { ensureBrowserNetwork, inboundCodec, inboundVideo, launchChromium, measureDecoding, newPage, playWithCodecs } from './test-browser.js';

interface StreamStats {
  fps: number;
  consumers: Array<{ name: string; framesDelivered: number }>;
  derived?: Array<{ codec: string; running: boolean; users: number; fps: number }>;
  webrtc: { clients: Array<{ codec: string; encoding: string; user: string }> };
}
const stats = async (h: TestHost) => ((await (await h.fetch('/api/stats')).json()) as Record<string, StreamStats>).stream1!;

describe('plugin-webrtc: a client without H.264 gets the derived VP8 encoding', () => {
  let h: TestHost;
  let chromium: { browser: Browser; close(): Promise<void> };
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { derivedLingerMs: 1500, disconnectTimeoutMs: 2000 } }],
      config: { streams: [testStream({ resolution: '320x240', fps: 15, profile: 'main' })] },
    });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    expect((await putState(h, 'webrtcIceServers', [])).status).toBe(200);
    await h.host.hub.waitForParameters('stream1', 20_000);
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
  });

  it('Chromium offering VP8 only decodes VP8 frames while an H.264 viewer of the same stream keeps playing; the extra encoder stops after its last viewer', async () => {
    // An H.264 viewer first: the stream's own encoding.
    const h264 = await newPage(chromium.browser, h.users.operator);
    await h264.page.goto(`${h.baseUrl}/view`);
    await measureDecoding(h264.page, undefined, 500);
    expect((await stats(h)).derived ?? []).toEqual([]);

    const vp8 = await newPage(chromium.browser, h.users.viewer);
    try {
      await vp8.page.goto(`${h.baseUrl}/api/health`);
      await playWithCodecs(vp8.page, ['video/VP8']);
      const m = await measureDecoding(vp8.page, 'window.pc', 1000);
      expect([m.width, m.height]).toEqual([320, 240]);
      expect(await inboundCodec(vp8.page)).toBe('video/VP8');
      const s = await stats(h);
      expect(s.derived).toEqual([expect.objectContaining({ codec: 'vp8', running: true, users: 1 })]);
      expect(s.webrtc.clients).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ user: 'viewer', codec: 'vp8', encoding: 'derived' }),
          expect.objectContaining({ user: 'operator', codec: 'h264', encoding: 'stream' }),
        ]),
      );
      // The H.264 viewer keeps decoding the stream's own frames meanwhile.
      const before = (await inboundVideo(h264.page))!.framesDecoded;
      await until(async () => (await inboundVideo(h264.page))!.framesDecoded > before + 15, 10_000, 'the H.264 page to keep decoding');
      // The viewer page names what it plays.
      await expect.poll(() => h264.page.locator('#codec').innerText()).toBe('H.264');
    } finally {
      await vp8.context.close();
    }
    // Its viewer gone (RTCP silence closes it), the extra encoder stops after the linger; H.264 plays on.
    await until(async () => (await stats(h)).derived?.[0]?.running === false, 20_000, 'the derived encoder to stop');
    expect((await stats(h)).derived?.[0]?.users).toBe(0);
    const before = (await inboundVideo(h264.page))!.framesDecoded;
    await until(async () => (await inboundVideo(h264.page))!.framesDecoded > before + 15, 10_000, 'the H.264 page to keep decoding');
    await h264.context.close();
  }, 90_000);
});
