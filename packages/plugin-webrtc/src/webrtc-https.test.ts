import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, testStream, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { ensureBrowserNetwork, launchChromium, measureDecoding, newPage } from './test-browser.js';

describe('the viewer page over HTTPS in headless Chromium', () => {
  let h: TestHost;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({
      plugins: [{ def: webrtc }],
      // Plain HTTP only redirects: the page, its API calls, SSE and the offer all go over HTTPS.
      config: { http: { tls: { port: 0 }, plain: 'redirect' }, streams: [testStream({ resolution: '640x360', fps: 30, profile: 'main' })] },
    });
    await h.host.state.set('webrtcEnabled', true);
    // Chromium trusts the generated certificate by its public key (what the daemon prints at its first start).
    chromium = await launchChromium([`--ignore-certificate-errors-spki-list=${h.host.tls.certificates!.current.spkiPin}`]);
  });
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
  });

  it('http:// is redirected to https://, and the page plays the stream with its statistics live', async () => {
    const { context, page } = await newPage(chromium.browser, h.users.viewer);
    try {
      await page.goto(`http://localhost:${h.httpPort}/view`);
      expect(page.url()).toBe(`https://localhost:${h.host.tls.httpsPort}/view`);
      expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
      const m = await measureDecoding(page);
      expect([m.width, m.height]).toEqual([640, 360]);
      expect(m.fps).toBeGreaterThan(20);
      await expect.poll(() => page.locator('#stats').innerText(), { timeout: 5000 }).toMatch(/decoded fps/);
    } finally {
      await context.close();
    }
  });
});
