import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { DEFAULT_STREAMS } from '@camd/core';
import { createTestHost, putState, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { ensureBrowserNetwork, launchChromium, measureDecoding, newPage } from './test-browser.js';

interface ClientStats {
  profile: string | null;
  answeredProfile: string | null;
  profileMismatch: boolean;
}
const clients = async (h: TestHost, stream: string) =>
  ((await (await h.fetch('/api/stats')).json()) as Record<string, { webrtc: { clients: ClientStats[] } }>)[stream]!.webrtc.clients;

/**
 * The default config's streams (stream1 H.264 High 1080p60, stream2 Main 720p30) in Debian's Chromium,
 * which offers Baseline, Constrained Baseline, Main and High 4:4:4 Predictive but no High. Heavy: two
 * 1080p60/720p30 encoders and a decoding browser on two cores (scripts/test.sh runs it alone).
 */
describe('plugin-webrtc: the default config plays in Chromium', () => {
  let h: TestHost;
  let chromium: { browser: Browser; close(): Promise<void> };
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({ plugins: [{ def: webrtc, options: {} }], config: { streams: DEFAULT_STREAMS } });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    expect((await putState(h, 'webrtcIceServers', [])).status).toBe(200);
    chromium = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
  });

  it.each([
    ['stream1', 1920, 1080, /^640c/],
    ['stream2', 1280, 720, /^4d/],
  ] as const)(
    '%s plays through /view and through the seed snippet with a transceiver added',
    async (stream, width, height, profile) => {
      await h.host.hub.waitForParameters(stream, 30_000);
      const { context, page } = await newPage(chromium.browser, h.users.viewer);
      try {
        await page.goto(`${h.baseUrl}/view?stream=${stream}`);
        const viewed = await measureDecoding(page, undefined, 1000);
        expect([viewed.width, viewed.height]).toEqual([width, height]);
        // The page names the codec it plays.
        await expect.poll(() => page.locator('#codec').innerText(), { timeout: 10_000 }).toMatch(/^H\.264/);
        const [c] = await clients(h, stream);
        expect(c).toMatchObject({ profile: expect.stringMatching(profile), profileMismatch: false });

        await page.goto(`${h.baseUrl}/api/health`);
        // The seed's snippet (POST the offer as JSON, apply the answer), plus the recvonly transceiver the README asks for.
        await page.evaluate(async (s) => {
          const pc = new RTCPeerConnection();
          (window as any).pc = pc;
          pc.addTransceiver('video', { direction: 'recvonly' });
          const offer = await pc.createOffer();
          await pc.setLocalDescription(offer);
          const response = await fetch(`/api/webrtc/offer?stream=${s}`, { method: 'POST', body: JSON.stringify(offer) });
          await pc.setRemoteDescription(await response.json());
        }, stream);
        const snippet = await measureDecoding(page, 'window.pc', 1000);
        expect([snippet.width, snippet.height]).toEqual([width, height]);
      } finally {
        await context.close();
      }
    },
    120_000,
  );
});
