import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, type TestHost } from '@camd/core/testing';
import timestamp, { codeGeometry, decodeTimecode } from '@camd/plugin-timestamp';
import webrtc from './index.js';
import { ensureBrowserNetwork, launchChromium, type Page } from './test-browser.js';
import { PLAYOUT_DELAY_URI } from './playout-delay.js';

const W = 320;
const H = 240;

/** In the page: the seed's browser flow into a new video element; returns the answer's SDP too. */
async function play(stream: string): Promise<{ pc: RTCPeerConnection; video: HTMLVideoElement; answer: string }> {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  document.body.append(video);
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = (e) => (video.srcObject = e.streams[0]!);
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`/api/webrtc/offer?stream=${stream}`, { method: 'POST', body: JSON.stringify(pc.localDescription) });
  const answer = await res.json();
  await pc.setRemoteDescription(answer);
  return { pc, video, answer: answer.sdp };
}

/**
 * In the page: plays the stream, skips `skip` presented frames (the jitter buffer settles), then
 * grabs the time-code region of `count` frames with their presentation wall-clock time, and the
 * jitter buffer's average delay over those frames (getStats).
 */
async function watch(o: { x: number; y: number; size: number; skip: number; count: number }) {
  const { pc, video, answer } = await (window as unknown as { camdPlay: typeof play }).camdPlay('stream1');
  const canvas = new OffscreenCanvas(o.size, o.size);
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  const frames: { presentedAt: number; rgba: string }[] = [];
  const jitter = async () => {
    let out = { delay: 0, emitted: 0 };
    (await pc.getStats()).forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') out = { delay: s.jitterBufferDelay ?? 0, emitted: s.jitterBufferEmittedCount ?? 0 };
    });
    return out;
  };
  let skip = o.skip;
  let j0 = { delay: 0, emitted: 0 };
  await new Promise<void>((resolve) => {
    const onFrame = async (_now: number, meta: { expectedDisplayTime: number }) => {
      if (skip-- === 0) j0 = await jitter();
      if (skip < 0) {
        g.drawImage(video, o.x, o.y, o.size, o.size, 0, 0, o.size, o.size);
        const px = g.getImageData(0, 0, o.size, o.size).data;
        let bin = '';
        for (let i = 0; i < px.length; i += 0x8000) bin += String.fromCharCode(...px.subarray(i, i + 0x8000));
        frames.push({ presentedAt: performance.timeOrigin + meta.expectedDisplayTime, rgba: btoa(bin) });
      }
      if (frames.length >= o.count) resolve();
      else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  const j1 = await jitter();
  pc.close();
  video.remove();
  return { frames, answer, jitterBufferMs: ((j1.delay - j0.delay) / Math.max(1, j1.emitted - j0.emitted)) * 1000 };
}

describe('streamLatencyMode: glass-to-glass in Chromium over WebRTC', () => {
  let h: TestHost;
  let page: Page;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let removeNetwork = () => {};
  const figures: Record<string, { p50: number; jitterBufferMs: number }> = {};
  beforeAll(async () => {
    removeNetwork = ensureBrowserNetwork();
    h = await createTestHost({
      plugins: [webrtc, { def: timestamp, options: { timecode: true } }],
      config: { streams: [testStream({ resolution: `${W}x${H}`, fps: 30, bitrate: 500_000, profile: 'main', source: 'videotestsrc:smpte' })] },
    });
    await putState(h, 'webrtcEnabled', true, h.users.operator);
    await putState(h, 'webrtcIceServers', [], h.users.operator);
    await h.host.hub.waitForParameters('stream1', 20_000);
    chromium = await launchChromium();
    const context = await chromium.browser.newContext({ httpCredentials: h.users.viewer });
    page = await context.newPage();
    await page.goto(`${h.baseUrl}/api/health`);
    await page.evaluate('window.__name = (f) => f'); // tsx keeps function names with a helper the page lacks
    await page.evaluate(`window.camdPlay = ${play.toString()}`);
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
    await h?.close();
    removeNetwork();
    console.log(`Chromium over WebRTC (320x240@30): ${JSON.stringify(figures)}`);
  });

  async function switchTo(mode: string): Promise<void> {
    const media = h.host.media as unknown as { pipelineId(name: string): string | undefined };
    const before = media.pipelineId('stream1');
    expect((await putState(h, 'streamLatencyMode', mode, h.users.operator)).status).toBe(200);
    await until(() => media.pipelineId('stream1') !== undefined && media.pipelineId('stream1') !== before, 15_000, `the pipeline rebuilt for ${mode}`);
    await h.host.hub.waitForParameters('stream1', 15_000);
  }

  async function measure(mode: string): Promise<{ p50: number; jitterBufferMs: number; answer: string }> {
    const g = codeGeometry(W, H);
    const r = await page.evaluate(watch, { x: g.x, y: g.y, size: g.size, skip: 45, count: 60 });
    const latencies: number[] = [];
    for (const s of r.frames) {
      const full = new Uint8Array(W * H * 3);
      const rgba = Buffer.from(s.rgba, 'base64');
      for (let y = 0; y < g.size; y++)
        for (let x = 0; x < g.size; x++) for (let c = 0; c < 3; c++) full[((g.y + y) * W + g.x + x) * 3 + c] = rgba[(y * g.size + x) * 4 + c]!;
      const captured = decodeTimecode({ width: W, height: H, format: 'RGB', data: full });
      if (captured !== undefined) latencies.push(s.presentedAt - captured);
    }
    expect(latencies.length).toBeGreaterThan(30);
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)]!;
    figures[mode] = { p50: Math.round(p50), jitterBufferMs: Math.round(r.jitterBufferMs) };
    return { p50, jitterBufferMs: r.jitterBufferMs, answer: r.answer };
  }

  it('the answer carries playout-delay; each mode stays within its budget; high holds its 500 ms floor in the browser', async () => {
    const low = await measure('low');
    // Chromium offers the extension; camd answers it, so the browser reads the delay from every packet.
    expect(low.answer).toContain(PLAYOUT_DELAY_URI);
    await switchTo('high');
    const high = await measure('high');
    await switchTo('normal');
    const normal = await measure('normal');
    await switchTo('low');
    expect(low.p50).toBeLessThan(150);
    expect(normal.p50).toBeLessThan(500);
    expect(high.p50).toBeLessThan(2000);
    // playout-delay min 500 ms in high (0 in low/normal): Chromium's jitter buffer holds frames that long.
    expect(high.jitterBufferMs).toBeGreaterThan(400);
    expect(low.jitterBufferMs).toBeLessThan(100);
    expect(normal.jitterBufferMs).toBeLessThan(100);
  });
});
