import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createTestHost, putState, testStream, until, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { ensureBrowserNetwork, inboundCodec, inboundVideo, launchChromium, measureDecoding, newPage, playWithCodecs, type Page } from './test-browser.js';

interface StreamStats {
  derived?: Array<{ codec: string; running: boolean; users: number; encoder: string }>;
  webrtc: { clients: Array<{ codec: string; encoding: string; user: string }> };
}
const stats = async (h: TestHost) => ((await (await h.fetch('/api/stats')).json()) as Record<string, StreamStats>).stream1!;
const running = async (h: TestHost) =>
  ((await stats(h)).derived ?? [])
    .filter((d) => d.running)
    .map((d) => d.codec)
    .sort();

/** The H.264 page keeps decoding the stream's own frames. */
async function keepsPlaying(page: Page): Promise<void> {
  const before = (await inboundVideo(page))!.framesDecoded;
  await until(async () => (await inboundVideo(page))!.framesDecoded > before + 15, 10_000, 'the H.264 page to keep decoding');
}

/**
 * VP9 and AV1 end to end: Debian's Chromium (libvpx, dav1d) restricted with setCodecPreferences to
 * one of them decodes camd's derived encoding (vp9enc / av1enc, RFC 9628 / AOMedia RTP packets),
 * while an H.264 viewer of the same stream keeps playing the stream's own encoding.
 */
describe('plugin-webrtc: clients without H.264 get VP9 or AV1', () => {
  let h: TestHost;
  let chromium: { browser: Browser; close(): Promise<void> };
  let h264: Awaited<ReturnType<typeof newPage>>;
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { derivedLingerMs: 1000, disconnectTimeoutMs: 2000 } }],
      config: { streams: [testStream({ resolution: '320x240', fps: 15, profile: 'main' })] },
    });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    expect((await putState(h, 'webrtcIceServers', [])).status).toBe(200);
    await h.host.hub.waitForParameters('stream1', 20_000);
    chromium = await launchChromium();
    h264 = await newPage(chromium.browser, h.users.operator);
    await h264.page.goto(`${h.baseUrl}/view`);
    await measureDecoding(h264.page, undefined, 500);
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
  });

  /** A page of `viewer` playing with only `mimeTypes` offered; returns it once it decodes. */
  async function play(mimeTypes: string[]): Promise<Awaited<ReturnType<typeof newPage>>> {
    const p = await newPage(chromium.browser, h.users.viewer);
    await p.page.goto(`${h.baseUrl}/api/health`);
    await playWithCodecs(p.page, mimeTypes);
    const m = await measureDecoding(p.page, 'window.pc', 1000);
    expect([m.width, m.height]).toEqual([320, 240]);
    return p;
  }

  it.each([
    ['VP9', 'vp9', 'vp9enc'],
    ['AV1', 'av1', 'av1enc'],
  ])(
    'Chromium offering %s only decodes it while the H.264 viewer keeps playing',
    async (name, codec, encoder) => {
      const p = await play([`video/${name}`]);
      try {
        expect(await inboundCodec(p.page)).toBe(`video/${name}`);
        const s = await stats(h);
        expect(s.derived).toEqual(expect.arrayContaining([expect.objectContaining({ codec, encoder, running: true, users: 1 })]));
        expect(s.webrtc.clients).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ user: 'viewer', codec, encoding: 'derived' }),
            expect.objectContaining({ user: 'operator', codec: 'h264', encoding: 'stream' }),
          ]),
        );
        await keepsPlaying(h264.page);
      } finally {
        await p.context.close();
      }
      await until(async () => (await running(h)).length === 0, 20_000, `the ${name} encoder to stop`);
      await keepsPlaying(h264.page);
    },
    90_000,
  );

  it('a client offering VP8, VP9 and AV1 joins the encoding already running (VP8) rather than start a second encoder; with none running it gets VP9 (the default order)', async () => {
    const all = ['video/VP8', 'video/VP9', 'video/AV1'];
    const vp8 = await play(['video/VP8']);
    const any = await play(all);
    try {
      expect(await inboundCodec(any.page)).toBe('video/VP8');
      expect(await running(h)).toEqual(['vp8']);
    } finally {
      await any.context.close();
      await vp8.context.close();
    }
    await until(async () => (await running(h)).length === 0, 20_000, 'the VP8 encoder to stop');
    const fresh = await play(all);
    try {
      expect(await inboundCodec(fresh.page)).toBe('video/VP9');
      expect(await running(h)).toEqual(['vp9']);
    } finally {
      await fresh.context.close();
    }
  }, 120_000);
});
