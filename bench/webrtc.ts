/**
 * WebRTC playback figures on this machine, with the daemon in its own process:
 * - time to first frame in headless Chromium (offer created → first frame presented), p50 of 5;
 * - glass-to-glass latency in the browser: the timestamp plugin's time code (capture wall clock) read
 *   from presented frames (requestVideoFrameCallback) against the browser's clock at presentation;
 * - viewers sustained at 720p30 (the default /stream2: main, 4 Mbit/s) and the daemon's CPU per viewer,
 *   with werift receivers in a separate process (Chromium decoding 100 videos would measure Chromium).
 * Prints; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startDaemon } from '../apps/daemon/test/daemon-process.js';
import { decodeTimecode, codeGeometry } from '../packages/plugin-timestamp/src/timecode.js';
import { launchChromium, ensureBrowserNetwork, type Page } from '../packages/plugin-webrtc/src/test-browser.js';
import { cpuSeconds, percentile } from './proc.js';

const STEPS = (process.env.BENCH_VIEWERS ?? '1,10,25,50').split(',').map(Number);
const WINDOW_MS = 5000;
const FPS = 30;
const USER = { username: 'bench', password: 'bench-secret' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function main(): Promise<void> {
  const removeNetwork = ensureBrowserNetwork();
  const d = await startDaemon({
    users: [{ ...USER, permissions: ['Media_rw'] }],
    // Its viewers (one user, one address) stand for many users: the per-user cap is raised with the total.
    plugins: [
      { name: '@camd/plugin-webrtc', options: { maxViewers: 500, maxViewersPerUser: 500 } },
      { name: '@camd/plugin-timestamp', options: { timecode: true } },
    ],
    streams: [{ path: '/stream2', resolution: '1280x720', fps: FPS, bitrate: 4_000_000, profile: 'main', source: 'videotestsrc' }],
  });
  const auth = { authorization: 'Basic ' + Buffer.from(`${USER.username}:${USER.password}`).toString('base64'), 'content-type': 'application/json' };
  await fetch(`${d.baseUrl}/api/state/webrtcEnabled`, { method: 'PUT', headers: auth, body: JSON.stringify({ value: true }) });
  await fetch(`${d.baseUrl}/api/state/webrtcIceServers`, { method: 'PUT', headers: auth, body: JSON.stringify({ value: [] }) });
  try {
    await browserFigures(d.baseUrl);
    await capacity(d.baseUrl, d.child.pid!);
  } finally {
    await d.stop();
    removeNetwork();
  }
}

async function browserFigures(baseUrl: string): Promise<void> {
  const chromium = await launchChromium();
  try {
    const firstFrame: number[] = [];
    for (let i = 0; i < 5; i++) {
      const context = await chromium.browser.newContext({ httpCredentials: USER });
      const page = await context.newPage();
      await page.goto(`${baseUrl}/api/health`);
      await installPlayer(page);
      firstFrame.push(await page.evaluate(watchTimeToFirstFrame));
      await context.close();
    }
    console.log(
      `time to first frame (offer created → first frame presented, Chromium, 720p30): p50 ${percentile(firstFrame, 0.5).toFixed(0)} ms, max ${Math.max(...firstFrame).toFixed(0)} ms`,
    );

    const context = await chromium.browser.newContext({ httpCredentials: USER });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/api/health`);
    await installPlayer(page);
    const g = codeGeometry(1280, 720);
    const samples = await page.evaluate(collectCodeRegions, { x: g.x, y: g.y, size: g.size, count: 90 });
    const latencies: number[] = [];
    for (const s of samples) {
      const full = new Uint8Array(1280 * 720 * 3);
      const rgba = Buffer.from(s.rgba, 'base64');
      for (let y = 0; y < g.size; y++)
        for (let x = 0; x < g.size; x++) for (let c = 0; c < 3; c++) full[((g.y + y) * 1280 + g.x + x) * 3 + c] = rgba[(y * g.size + x) * 4 + c]!;
      const captured = decodeTimecode({ width: 1280, height: 720, format: 'RGB', data: full });
      if (captured !== undefined) latencies.push(s.presentedAt - captured);
    }
    console.log(
      `glass-to-glass in Chromium (capture → frame presented, 720p30 4 Mbit/s, ${latencies.length}/${samples.length} codes read): p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms`,
    );
    await context.close();
  } finally {
    await chromium.close();
  }
}

/** In the page (installed as `window.camdPlay`): the documented browser client flow (README, WebRTC) into a new video element. */
async function play(stream: string): Promise<{ pc: RTCPeerConnection; video: HTMLVideoElement }> {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  document.body.append(video);
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = (e) => (video.srcObject = e.streams[0]!);
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`/api/webrtc/offer?stream=${stream}`, { method: 'POST', body: JSON.stringify(pc.localDescription) });
  await pc.setRemoteDescription(await res.json());
  return { pc, video };
}

/** In the page: ms from creating the offer to the first presented frame. */
async function watchTimeToFirstFrame(): Promise<number> {
  const t0 = performance.now();
  const { pc, video } = await (window as unknown as { camdPlay: typeof play }).camdPlay('stream2');
  const presented = await new Promise<number>((resolve) => video.requestVideoFrameCallback((now) => resolve(now)));
  pc.close();
  return presented - t0;
}

/** In the page: the time-code region of `count` presented frames, with the wall-clock time each was presented. */
async function collectCodeRegions(o: { x: number; y: number; size: number; count: number }): Promise<{ presentedAt: number; rgba: string }[]> {
  const { pc, video } = await (window as unknown as { camdPlay: typeof play }).camdPlay('stream2');
  const canvas = new OffscreenCanvas(o.size, o.size);
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  const out: { presentedAt: number; rgba: string }[] = [];
  let skip = 30; // let the jitter buffer settle
  await new Promise<void>((resolve) => {
    const onFrame = (_now: number, meta: { expectedDisplayTime: number }) => {
      if (skip-- <= 0) {
        g.drawImage(video, o.x, o.y, o.size, o.size, 0, 0, o.size, o.size);
        const px = g.getImageData(0, 0, o.size, o.size).data;
        let bin = '';
        for (let i = 0; i < px.length; i += 0x8000) bin += String.fromCharCode(...px.subarray(i, i + 0x8000));
        out.push({ presentedAt: performance.timeOrigin + meta.expectedDisplayTime, rgba: btoa(bin) });
      }
      if (out.length >= o.count) resolve();
      else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  pc.close();
  return out;
}

async function installPlayer(page: Page): Promise<void> {
  await page.evaluate('window.__name = (f) => f'); // tsx keeps function names with a helper the page lacks
  await page.evaluate(`window.camdPlay = ${play.toString()}`);
}

async function capacity(baseUrl: string, pid: number): Promise<void> {
  let c0 = cpuSeconds(pid);
  await sleep(WINDOW_MS);
  const idle = (cpuSeconds(pid) - c0) / (WINDOW_MS / 1000);
  console.log(`daemon idle (encoder in its worker process, not counted): ${(idle * 100).toFixed(1)} % of a core`);
  for (const n of STEPS) {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'bench/children/webrtc-receivers.ts', baseUrl, `${USER.username}:${USER.password}`, 'stream2', String(n)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const connected = await Promise.race([lines.next(), sleep(60_000).then(() => undefined)]);
    if (!connected || connected.done) {
      console.log(`${String(n).padStart(4)} viewers: did not all connect within 60 s`);
      child.kill();
      break;
    }
    await sleep(3000);
    c0 = cpuSeconds(pid);
    child.stdin!.write(`measure ${WINDOW_MS}\n`);
    const { value } = await lines.next();
    const cpu = (cpuSeconds(pid) - c0) / (WINDOW_MS / 1000);
    const fps = (JSON.parse(value as string) as { frames: number[] }).frames.map((f) => f / (WINDOW_MS / 1000));
    const minFps = Math.min(...fps);
    const sustained = minFps >= FPS * 0.95;
    console.log(
      `${String(n).padStart(4)} viewers: slowest ${minFps.toFixed(1)} fps, median ${percentile(fps, 0.5).toFixed(1)} fps ${sustained ? '(sustained)' : '(NOT sustained)'} | daemon ${(cpu * 100).toFixed(0)} % of a core, ${(((cpu - idle) / n) * 100).toFixed(2)} % per viewer`,
    );
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    await sleep(3000); // the daemon notices the closed peers (RTCP silence) before the next step
    if (!sustained) break;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
