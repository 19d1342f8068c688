import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { NetworkFeedback } from '@camd/core';
import { createTestHost, testStream, until, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { ensureBrowserNetwork, inboundVideo, launchChromium, measureDecoding, newPage as openPage } from './test-browser.js';

const json = (value: unknown) => ({ method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });

/** Viewers the daemon holds for `stream` according to its own statistics. */
async function viewerCount(h: TestHost, stream = 'stream1'): Promise<number> {
  const stats = (await (await h.fetch('/api/stats')).json()) as Record<string, { webrtc: { viewers: number } }>;
  return stats[stream]!.webrtc.viewers;
}

/**
 * Frames a page decoded and frames the daemon sent to that viewer (its hub consumer), over the same
 * 3 s: what the WebRTC path loses, independent of how fast this machine encodes. The two counters are
 * read a moment apart, and a browser starved of CPU decodes in bursts behind its jitter buffer: up to
 * four windows are measured, and the first in which the page decoded at least 90 % of what was sent
 * is returned (a path that loses frames never gets there).
 */
async function decodedVsSent(h: TestHost, page: Page, username: string): Promise<{ decoded: number; sent: number }> {
  const sent = async () => {
    const stats = (await (await h.fetch('/api/stats')).json()) as Record<string, { consumers: Array<{ name: string; framesDelivered: number }> }>;
    return stats.stream1!.consumers.find((c) => c.name.startsWith('webrtc') && c.name.endsWith(` ${username}`))?.framesDelivered ?? 0;
  };
  let last = { decoded: 0, sent: 0 };
  for (let i = 0; i < 4; i++) {
    const [b0, s0] = await Promise.all([inboundVideo(page), sent()]);
    await new Promise((r) => setTimeout(r, 3000));
    const [b1, s1] = await Promise.all([inboundVideo(page), sent()]);
    last = { decoded: b1!.framesDecoded - b0!.framesDecoded, sent: s1 - s0 };
    if (last.decoded / last.sent > 0.9) return last;
  }
  return last;
}
/** A real browser offer (recvonly video, as the viewer page makes it), created in `page`. */
async function browserOffer(page: Page, kinds: ('video' | 'audio')[] = ['video']): Promise<{ type: string; sdp: string }> {
  return page.evaluate(async (k) => {
    const pc = new RTCPeerConnection();
    for (const kind of k) pc.addTransceiver(kind, { direction: 'recvonly' });
    const offer = await pc.createOffer();
    pc.close();
    return { type: offer.type, sdp: offer.sdp! };
  }, kinds);
}

describe('plugin-webrtc with headless Chromium', () => {
  let h: TestHost;
  let chromium: { browser: Browser; close(): Promise<void> };
  const feedback: NetworkFeedback[] = [];
  let removeNetwork = () => {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { maxViewers: 3, connectTimeoutMs: 3000, disconnectTimeoutMs: 2000 } }],
      config: { streams: [testStream({ resolution: '640x360', fps: 30, profile: 'main' }), testStream({ path: '/stream2', resolution: '320x240', fps: 15 })] },
    });
    h.host.hooks.networkFeedback.tap('test', (f) => void feedback.push(f));
    expect((await h.fetch('/api/state/webrtcEnabled', { user: h.users.operator }).then((r) => r.json())).value).toBe(false);
    expect((await h.fetch('/api/state/webrtcEnabled', { ...json(true), user: h.users.operator })).status).toBe(200);
    chromium = await launchChromium();
  });
  // Every page a test opens is closed after it, also when it fails: a viewer left playing would
  // change the peer counts the next tests check.
  const contexts: BrowserContext[] = [];
  const newPage = async (browser: Browser, credentials?: { username: string; password: string }) => {
    const p = await openPage(browser, credentials);
    contexts.push(p.context);
    return p;
  };
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => undefined)));
    if (!h.host.state.get<boolean>('webrtcEnabled')) await h.host.state.set('webrtcEnabled', true);
  });
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
  });

  it('the viewer page plays a stream at its frame rate and size; receiver reports and REMB reach the feedback hook', async () => {
    const { context, page } = await newPage(chromium.browser, h.users.viewer);
    await page.goto(`${h.baseUrl}/`);
    expect(page.url()).toBe(`${h.baseUrl}/view`);
    // A busy machine (CI with a core taken) can hold Chromium's decoder back for a moment: the stream
    // plays at its rate when one 3 s window of three shows it (22.9 fps in one window was seen).
    let m = await measureDecoding(page);
    for (let i = 0; i < 2 && m.fps <= 25; i++) m = await measureDecoding(page);
    expect([m.width, m.height]).toEqual([640, 360]);
    expect(m.fps).toBeGreaterThan(25);
    expect(m.fps).toBeLessThan(35);
    const mine = await until(
      () => {
        const l = feedback.filter((f) => f.transport === 'webrtc');
        return l.some((f) => f.packetLoss !== undefined) && l.some((f) => (f.availableBandwidth ?? 0) > 0) && l;
      },
      10_000,
      'receiver reports and REMB',
    );
    expect(mine.find((f) => f.packetLoss !== undefined)).toMatchObject({ stream: 'stream1', packetLoss: 0 });
    expect(mine.some((f) => (f.availableBandwidth ?? 0) > 100_000)).toBe(true);
    // The page shows the daemon's statistics and the viewer's settings, read-only for Media_r.
    await expect.poll(() => page.locator('#stats').innerText(), { timeout: 5000 }).toMatch(/decoded fps/);
    expect(await page.locator('#settings').innerText()).toMatch(/streamBitrate/);
    expect(await page.locator('#settings input[data-key="streamBitrate"]').count()).toBe(0);
    await context.close();
  });

  it('an operator changes a setting from the page and every page sees it live', async () => {
    const a = await newPage(chromium.browser, h.users.operator);
    await a.page.goto(`${h.baseUrl}/view?stream=stream2&autoplay=0`);
    const input = a.page.locator('#settings input[data-key="stream2.streamBitrate"]');
    await input.waitFor();
    await a.page.waitForFunction(() => (window as any).camd.eventsOpen === true);
    await input.fill('400000');
    await input.blur(); // as a user leaves the field: the browser fires one change event (and the page no longer holds the field)
    await expect
      .poll(
        () =>
          h
            .fetch('/api/state/stream2.streamBitrate')
            .then((r) => r.json())
            .then((b) => b.value),
        { timeout: 5000 },
      )
      .toBe(400_000);
    await h.fetch('/api/state/stream2.streamBitrate', json(450_000));
    await expect.poll(() => input.inputValue(), { timeout: 5000 }).toBe('450000');
    // A value the daemon refuses: the page shows why, and nothing changes.
    const resolution = a.page.locator('#settings input[data-key="stream2.streamResolution"]');
    await resolution.fill('641x360');
    await resolution.blur();
    await expect.poll(() => a.page.locator('#settingsMsg').innerText(), { timeout: 5000 }).toMatch(/stream2\.streamResolution: .*even/);
    expect((await h.fetch('/api/state/stream2.streamResolution').then((r) => r.json())).value).toBe('320x240');
    expect(await a.page.locator('#settings select[data-key="stream2.encoderProfile"]').inputValue()).toBe('main');
    await a.context.close();
  });

  it('a WHEP player on another origin plays stream2; DELETE ends its session', async () => {
    const { context, page } = await newPage(chromium.browser);
    const auth = 'Basic ' + Buffer.from('viewer:viewer-secret').toString('base64');
    const session = await page.evaluate(
      async ({ base, auth }) => {
        const pc = new RTCPeerConnection();
        (window as any).whep = pc;
        pc.addTransceiver('video', { direction: 'recvonly' });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch(base + '/whep/stream2', {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp', Authorization: auth },
          body: pc.localDescription!.sdp,
        });
        const sdp = await res.text();
        if (res.status !== 201) return { status: res.status, body: sdp };
        await pc.setRemoteDescription({ type: 'answer', sdp });
        return { status: res.status, location: res.headers.get('Location'), type: res.headers.get('Content-Type'), link: res.headers.get('Link') };
      },
      { base: h.baseUrl, auth },
    );
    expect(session).toMatchObject({ status: 201, type: 'application/sdp', location: expect.stringMatching(/^\/whep\/stream2\/sessions\/[0-9a-f-]{36}$/) });
    expect(session.link).toContain('rel="ice-server"');
    const m = await measureDecoding(page, 'window.whep');
    expect([m.width, m.height]).toEqual([320, 240]);
    expect(m.fps).toBeGreaterThan(12);
    await until(async () => (await viewerCount(h, 'stream2')) === 1, 10_000, 'the WHEP viewer to count');
    const del = await page.evaluate(async ({ url, auth }) => (await fetch(url, { method: 'DELETE', headers: { Authorization: auth } })).status, {
      url: h.baseUrl + session.location,
      auth,
    });
    expect(del).toBe(200);
    await until(async () => (await viewerCount(h, 'stream2')) === 0, 10_000, 'the deleted WHEP session to leave');
    expect((await h.fetch(session.location!, { method: 'DELETE', user: h.users.viewer })).status).toBe(404);
    await context.close();
  });

  it('two viewers decode at once; closing one leaves the other playing; the peer count returns to its start', async () => {
    const before = await viewerCount(h);
    const one = await newPage(chromium.browser, h.users.viewer);
    const two = await newPage(chromium.browser, h.users.operator);
    await Promise.all([one.page.goto(`${h.baseUrl}/view`), two.page.goto(`${h.baseUrl}/view`)]);
    await Promise.all([measureDecoding(one.page, undefined, 500), measureDecoding(two.page, undefined, 500)]);
    // Both decode what the daemon sends them, at the same time. (With two browsers decoding beside the
    // encoder and other tests on two cores, the rate itself depends on the machine; the first test
    // checks it with one viewer.)
    const [m1, m2] = await Promise.all([decodedVsSent(h, one.page, 'viewer'), decodedVsSent(h, two.page, 'operator')]);
    for (const m of [m1, m2]) {
      expect(m.decoded / m.sent).toBeGreaterThan(0.9);
      expect(m.decoded / 3).toBeGreaterThan(15);
    }
    await until(async () => (await viewerCount(h)) === before + 2, 10_000, 'both pages to count');
    // The first browser vanishes without a goodbye: the daemon notices by itself.
    await one.context.close();
    const after = await decodedVsSent(h, two.page, 'operator');
    expect(after.decoded / after.sent).toBeGreaterThan(0.9);
    expect(after.decoded / 3).toBeGreaterThan(20);
    await until(async () => (await viewerCount(h)) === before + 1, 20_000, 'the closed page to leave');
    await two.context.close();
    await until(async () => (await viewerCount(h)) === before, 20_000, 'the other page to leave');
  });

  it('bad offers and credentials get their status codes and the daemon keeps serving', async () => {
    const { context, page } = await newPage(chromium.browser);
    const offer = await browserOffer(page);
    const post = (body: string, opts: { user?: (typeof h.users)[keyof typeof h.users] | null; type?: string; query?: string } = {}) =>
      h.fetch(`/api/webrtc/offer${opts.query ?? ''}`, {
        method: 'POST',
        body,
        headers: { 'content-type': opts.type ?? 'text/plain;charset=UTF-8' },
        user: opts.user === undefined ? h.users.viewer : opts.user,
      });
    const status = async (r: Promise<Response>) => {
      const res = await r;
      return [res.status, ((await res.json()) as { code: string }).code];
    };
    expect(await status(post(JSON.stringify(offer), { user: null }))).toEqual([401, 'CAMD_ERR_AUTH_REQUIRED']);
    expect(await status(post(JSON.stringify(offer), { user: { ...h.users.viewer, password: 'wrong' } }))).toEqual([401, 'CAMD_ERR_AUTH_REQUIRED']);
    expect(await status(post(JSON.stringify(offer), { user: h.users.nobody }))).toEqual([403, 'CAMD_ERR_AUTH_FORBIDDEN']);
    expect(await status(post('{"type":"offer","sdp":'))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_OFFER']);
    expect(await status(post('{"type":"offer","sdp":', { type: 'application/json' }))).toEqual([400, expect.any(String)]);
    expect(await status(post(JSON.stringify({ type: 'answer', sdp: offer.sdp })))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_OFFER']);
    expect(await status(post(JSON.stringify({ type: 'offer', sdp: 'hello' })))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_SDP']);
    expect(await status(post(JSON.stringify({ type: 'offer', sdp: offer.sdp.replace(/a=fingerprint:.*\r\n/g, '') })))).toEqual([
      400,
      'CAMD_ERR_WEBRTC_BAD_SDP',
    ]);
    expect(await status(post(JSON.stringify(await browserOffer(page, ['audio']))))).toEqual([400, 'CAMD_ERR_WEBRTC_NO_VIDEO']);
    // Neither the stream's codec nor a derived encoding's (VP8, VP9 profile 0, AV1 Main): nothing to answer.
    const noneTaken = offer.sdp.replace(/a=rtpmap:\d+ (H264|VP8|VP9|AV1)\/90000\r\n/g, '');
    expect(await status(post(JSON.stringify({ type: 'offer', sdp: noneTaken })))).toEqual([422, 'CAMD_ERR_WEBRTC_CODEC']);
    expect(await status(post(JSON.stringify(offer), { query: '?stream=nope' }))).toEqual([404, 'CAMD_ERR_STREAM_UNKNOWN']);
    expect(await status(post('x'.repeat(70_000)))).toEqual([413, expect.any(String)]);
    const whep = await h.fetch('/whep/stream1', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(offer),
      user: h.users.viewer,
    });
    expect(whep.status).toBe(415);
    expect(
      (await h.fetch('/whep/stream1/sessions/x', { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=x' })).status,
    ).toBe(405);

    // Too many viewers: offers that never connect hold their slot, then time out and leave no state.
    const base = await viewerCount(h);
    const held: number[] = [];
    for (let i = base; i < 3; i++) held.push((await post(JSON.stringify(offer))).status);
    expect(held.every((s) => s === 200)).toBe(true);
    const over = await post(JSON.stringify(offer));
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('5');
    await until(async () => (await viewerCount(h)) === 0, 10_000, 'the viewers to leave');

    // Disabled: offers answer 503 (and turning it off closes live peers, checked below).
    await h.fetch('/api/state/webrtcEnabled', json(false));
    expect(await status(post(JSON.stringify(offer)))).toEqual([503, 'CAMD_ERR_WEBRTC_DISABLED']);
    await h.fetch('/api/state/webrtcEnabled', json(true));
    expect((await h.fetch('/api/health', { user: null })).status).toBe(200);
    await context.close();
  });

  it('a resolution change reaches the playing browser over the same peer connection', async () => {
    const { context, page } = await newPage(chromium.browser, h.users.viewer);
    await page.goto(`${h.baseUrl}/view`);
    expect((await measureDecoding(page, undefined, 500)).width).toBe(640);
    expect((await h.fetch('/api/state/streamResolution', { ...json('480x272'), user: h.users.operator })).status).toBe(200);
    await expect.poll(async () => (await inboundVideo(page))?.frameWidth, { timeout: 20_000, interval: 500 }).toBe(480);
    const m = await measureDecoding(page, undefined, 1000);
    expect([m.width, m.height]).toEqual([480, 272]);
    const flow = await decodedVsSent(h, page, 'viewer');
    expect(flow.decoded / flow.sent).toBeGreaterThan(0.9);
    await h.fetch('/api/state/streamResolution', { ...json('640x360'), user: h.users.operator });
    await context.close();
  });

  it('a crash of the media process pauses the playing browser, which resumes over the same peer connection', async () => {
    const { context, page } = await newPage(chromium.browser, h.users.viewer);
    await page.goto(`${h.baseUrl}/view`);
    await measureDecoding(page, undefined, 500);
    const pc = () => page.evaluate(() => (window as any).camd.pc?.connectionState as string);
    expect(await pc()).toBe('connected');
    expect(h.killMediaProcess()).toHaveLength(1);
    const atCrash = (await inboundVideo(page))!.framesDecoded;
    // The pipeline restarts after its backoff (1 s) and the viewer decodes fresh frames again.
    await expect.poll(async () => (await inboundVideo(page))!.framesDecoded, { timeout: 20_000, interval: 500 }).toBeGreaterThan(atCrash + 30);
    expect(await pc()).toBe('connected');
    const flow = await decodedVsSent(h, page, 'viewer');
    expect(flow.decoded / flow.sent).toBeGreaterThan(0.9);
    await context.close();
  });

  it('turning webrtcEnabled off closes the peer connections of the page', async () => {
    await until(async () => (await viewerCount(h)) === 0, 10_000, 'the earlier pages to leave');
    const { context, page } = await newPage(chromium.browser, h.users.operator);
    await page.goto(`${h.baseUrl}/view`);
    await measureDecoding(page, undefined, 500);
    expect(await viewerCount(h)).toBe(1);
    await h.fetch('/api/state/webrtcEnabled', json(false));
    expect(await viewerCount(h)).toBe(0);
    await expect.poll(() => page.evaluate(() => (window as any).camd.pc?.connectionState), { timeout: 15_000 }).toMatch(/disconnected|failed|closed/);
    await h.fetch('/api/state/webrtcEnabled', json(true));
    await context.close();
  });
});
