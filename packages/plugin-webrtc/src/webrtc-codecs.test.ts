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

  it('h264 main → h265 (VP9) → mjpeg (VP9) → h264 high (Annex A: plays): the page plays every step, and no peer outlives its codec', async () => {
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
      const clientCodec = async () => (await stats(h)).webrtc.clients.map((c) => c.codec).join(',');
      // H.265 and MJPEG, which this Chromium cannot take: the daemon closes the H.264 peer (it never
      // sends the new codec), the page negotiates again and plays the stream's derived VP9 encoding (the
      // default `derivedCodecs` order: VP9 is the cheapest to encode).
      expect((await putState(h, 'videoEncoder', 'h265')).status).toBe(200);
      await until(async () => (await stats(h)).codec === 'h265', 20_000, 'the stream to run H.265');
      await expect.poll(clientCodec, { timeout: 20_000 }).toBe('vp9');
      await expect.poll(status, { timeout: 20_000 }).toBe('connected');
      await expect.poll(() => page.locator('#codec').innerText(), { timeout: 10_000 }).toMatch(/^VP9/);
      let before = await decoded();
      await until(async () => (await decoded()) > before + 10, 20_000, 'the page to decode VP9');
      expect((await putState(h, 'videoEncoder', 'mjpeg')).status).toBe(200);
      await until(async () => (await stats(h)).codec === 'mjpeg', 20_000, 'the stream to run MJPEG');
      await expect.poll(clientCodec, { timeout: 20_000 }).toBe('vp9');
      before = await decoded();
      await until(async () => (await decoded()) > before + 10, 20_000, 'the page to decode VP9 of the MJPEG stream');
      // High, which this Chromium does not offer but decodes (its High 4:4:4 Predictive format covers it,
      // Annex A): the page negotiates again by itself and plays.
      expect((await putState(h, 'encoderProfile', 'high')).status).toBe(200);
      expect((await putState(h, 'videoEncoder', 'h264')).status).toBe(200);
      // The VP9 peer outlives the codec change (its derived encoder follows the pictures); the page
      // negotiates again on videoEncoder's change and gets the stream's own H.264.
      await expect.poll(clientCodec, { timeout: 20_000 }).toBe('h264');
      await expect.poll(status, { timeout: 20_000 }).toBe('connected');
      before = await decoded();
      await until(async () => (await decoded()) > before + 10, 20_000, 'the page to decode again');
    } finally {
      await context.close();
    }
  }, 180_000);
});
