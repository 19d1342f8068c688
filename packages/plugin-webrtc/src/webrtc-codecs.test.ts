import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createTestHost, putState, testStream, until, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { ensureBrowserNetwork, inboundVideo, launchChromium, newPage } from './test-browser.js';

interface Stats {
  codec: string;
  webrtc: { viewers: number; clients: Array<{ codec: string; profile: string | null }> };
}
const stats = async (h: TestHost) => ((await (await h.fetch('/api/stats')).json()) as Record<string, Stats>).stream1!;

/**
 * Debian's Chromium offers H.264 baseline, constrained baseline, main and high 4:4:4 (no High, no
 * H.265): what camd answers must be exactly what it sends, or a refusal that says why.
 */
describe('plugin-webrtc: codec and profile truth with headless Chromium', () => {
  let h: TestHost;
  let browser: { browser: Browser; close(): Promise<void> };
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { connectTimeoutMs: 5000, disconnectTimeoutMs: 3000 } }],
      config: { streams: [testStream({ profile: 'main' })] },
    });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    removeNetwork();
  });

  it('a connected peer that does not renegotiate by itself is closed by the daemon when the codec changes, and gets no frame of the new codec', async () => {
    await h.host.hub.waitForParameters('stream1', 20_000);
    const { context, page } = await newPage(browser.browser, h.users.viewer);
    try {
      await page.goto(`${h.baseUrl}/api/health`);
      // The seed's browser snippet, plus the recvonly transceiver the README asks for.
      await page.evaluate(async () => {
        const pc = new RTCPeerConnection();
        (window as any).pc = pc;
        (window as any).states = [];
        pc.onconnectionstatechange = () => (window as any).states.push(pc.connectionState);
        pc.addTransceiver('video', { direction: 'recvonly' });
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        const response = await fetch('/api/webrtc/offer?stream=stream1', { method: 'POST', body: JSON.stringify(offer) });
        await pc.setRemoteDescription(await response.json());
      });
      const decoded = async () => (await inboundVideo(page, 'window.pc'))?.framesDecoded ?? 0;
      await until(async () => (await decoded()) > 10, 20_000, 'the peer to decode H.264');
      expect((await putState(h, 'videoEncoder', 'h265')).status).toBe(200);
      await until(async () => (await stats(h)).webrtc.viewers === 0, 20_000, 'the daemon to close the peer');
      const atClose = await decoded();
      await until(async () => (await stats(h)).codec === 'h265', 20_000, 'the stream to run H.265');
      await new Promise((r) => setTimeout(r, 1500));
      // Nothing arrives after the close: no H.265 packets were sent to an H.264 decoder.
      expect(await decoded()).toBe(atClose);
      await expect.poll(() => page.evaluate(() => (window as any).pc.connectionState as string), { timeout: 20_000 }).toMatch(/failed|closed|disconnected/);
    } finally {
      await context.close();
      await putState(h, 'videoEncoder', 'h264');
      await until(async () => (await stats(h)).codec === 'h264', 20_000, 'the stream to run H.264 again');
    }
  }, 90_000);

  it('h264 main → h265 → mjpeg → h264 high (Annex A: plays) → h264 main: the page plays what it can, shows the refusal for what it cannot, and no peer outlives its codec', async () => {
    await h.host.hub.waitForParameters('stream1', 20_000);
    const { context, page } = await newPage(browser.browser, h.users.operator);
    try {
      await page.goto(`${h.baseUrl}/view`);
      const decoded = async () => (await inboundVideo(page))?.framesDecoded ?? 0;
      await until(async () => (await decoded()) > 10, 20_000, 'the page to decode H.264 main');
      // The answer names the profile the SPS has (x264 main: 4d40..), not the browser's 4d001f.
      const sps = h.host.hub.parameters('stream1')!.profileLevelId!;
      expect(sps).toMatch(/^4d/);
      const answer = await page.evaluate(() => (window as any).camd.pc.remoteDescription.sdp as string);
      expect(answer).toMatch(new RegExp(`^a=fmtp:\\d+ .*profile-level-id=${sps}`, 'm'));
      expect((await stats(h)).webrtc.clients).toEqual([expect.objectContaining({ codec: 'h264', profile: sps })]);

      const status = () => page.locator('#status').innerText();
      for (const [codec, refusal] of [
        ['h265', /stream "stream1" is H\.265 main and this browser's offer carries no H\.265 main/],
        ['mjpeg', /stream "stream1" is MJPEG, which WebRTC cannot carry/],
      ] as const) {
        expect((await putState(h, 'videoEncoder', codec)).status).toBe(200);
        // The daemon closes the peer (it never sends the new codec), and the page says why it cannot play.
        await until(async () => (await stats(h)).webrtc.viewers === 0, 20_000, `the H.264 peer to be closed after ${codec}`);
        await expect.poll(status, { timeout: 20_000 }).toMatch(refusal);
        expect((await stats(h)).codec).toBe(codec);
      }
      // High, which this Chromium does not offer but decodes (its High 4:4:4 Predictive format covers it,
      // Annex A): the page negotiates again by itself and plays.
      expect((await putState(h, 'encoderProfile', 'high')).status).toBe(200);
      expect((await putState(h, 'videoEncoder', 'h264')).status).toBe(200);
      await expect.poll(status, { timeout: 20_000 }).toBe('connected');
      const before = await decoded();
      await until(async () => (await decoded()) > before + 10, 20_000, 'the page to decode again');
      expect((await stats(h)).webrtc.clients).toEqual([expect.objectContaining({ codec: 'h264' })]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
