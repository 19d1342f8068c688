import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import { ensureBrowserNetwork, inboundVideo, launchChromium, newPage, type Page } from '@camd/plugin-webrtc/testing';
import { startProc, stopAll, type Proc } from './test-utils.js';

// The README's Janus recipe ("More viewers than one camera"): Janus (Debian's) pulls camd's RTSP once
// with its streaming plugin and serves WebRTC viewers from there. Headless Chromium watches the
// mountpoint through Janus's HTTP API (fixtures/janus-viewer.html: create, attach, watch, answer with
// start, trickle, long poll) and decodes frames of camd's size, while camd's /api/stats counts one
// RTSP session (Janus's) for the stream, with one viewer and with two. Chromium gathers candidates on
// non-loopback interfaces only: ensureBrowserNetwork adds a private veth where there is none, and Janus
// offers its one host candidate on that same address (ice_enforce_list), so ICE stays on this machine.
const LIB = '/usr/lib/x86_64-linux-gnu/janus';
const VIEWER_PAGE = readFileSync(new URL('./fixtures/janus-viewer.html', import.meta.url), 'utf8');

let host: TestHost | undefined;
let dir: string | undefined;
let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
let removeNetwork = () => {};
afterEach(async () => {
  await chromium?.close();
  chromium = undefined;
  await stopAll();
  await host?.close();
  host = undefined;
  removeNetwork();
  removeNetwork = () => {};
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** An address Chromium gathers a host candidate on: the first non-loopback IPv4 address (there is one after ensureBrowserNetwork). */
function browserAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('no non-loopback IPv4 address');
}

function janus(port: number, rtspUrl: string, iceAddress: string): Proc {
  dir = mkdtempSync(join(tmpdir(), 'camd-janus-'));
  for (const d of ['plugins', 'transports', 'none']) mkdirSync(join(dir, d));
  // Only the streaming plugin and the HTTP transport are loaded.
  symlinkSync(join(LIB, 'plugins/libjanus_streaming.so'), join(dir, 'plugins/libjanus_streaming.so'));
  symlinkSync(join(LIB, 'transports/libjanus_http.so'), join(dir, 'transports/libjanus_http.so'));
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${dir}/plugins"
  transports_folder = "${dir}/transports"
  events_folder = "${dir}/none"
  loggers_folder = "${dir}/none"
  debug_level = 4
}
media: { rtp_port_range = "20000-40000" }
nat: { ice_enforce_list = "${iceAddress}" }
`,
  );
  writeFileSync(
    join(dir, 'janus.transport.http.jcfg'),
    `general: { json = "compact", base_path = "/janus", http = true, port = ${port}, ip = "127.0.0.1", https = false }
admin: { admin_http = false }
`,
  );
  const u = new URL(rtspUrl);
  writeFileSync(
    join(dir, 'janus.plugin.streaming.jcfg'),
    `camd-stream1: {
  type = "rtsp"
  id = 1
  description = "camd stream1"
  audio = false
  video = true
  url = "rtsp://${u.host}${u.pathname}"
  rtsp_user = "${decodeURIComponent(u.username)}"
  rtsp_pwd = "${decodeURIComponent(u.password)}"
  rtsp_reconnect_delay = 5
}
`,
  );
  return startProc('janus', ['-F', dir, '-C', join(dir, 'janus.jcfg')]);
}

async function call(base: string, path: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(base + path, { method: 'POST', body: JSON.stringify({ transaction: Math.random().toString(36).slice(2), ...body }) });
  return res.json();
}

async function rtspSessions(h: TestHost): Promise<number> {
  const stats = (await (await h.fetch('/api/stats')).json()) as { stream1: { rtsp: { sessions: number } } };
  return stats.stream1.rtsp.sessions;
}

/** Opens the viewer page on Janus's origin (the page is served by the test, its API calls go to Janus). */
async function openViewer(browser: NonNullable<typeof chromium>['browser'], base: string): Promise<Page> {
  const { page } = await newPage(browser);
  await page.route(`${base}/viewer.html*`, (route) => route.fulfill({ contentType: 'text/html', body: VIEWER_PAGE }));
  await page.goto(`${base}/viewer.html?id=1`);
  return page;
}

/** What the viewer shows: decoded frames (getStats), the <video>'s size and play position, the page's error. */
async function playback(page: Page) {
  const video = await page.evaluate(() => {
    const v = document.querySelector('video')!;
    const w = window as unknown as { viewer: { error: string | null; webrtcup: boolean } };
    return { width: v.videoWidth, height: v.videoHeight, time: v.currentTime, paused: v.paused, error: w.viewer.error, webrtcup: w.viewer.webrtcup };
  });
  if (video.error) throw new Error(`viewer page: ${video.error}`);
  return { ...video, framesDecoded: (await inboundVideo(page, 'window.viewer.pc'))?.framesDecoded ?? 0 };
}

/** The mountpoint as Janus's streaming plugin reports it (`info`): type, viewers, age of the newest video packet. */
async function mountpoint(base: string, path: string): Promise<{ type: string; viewers: number; videoAgeMs?: number }> {
  const r = await call(base, path, { janus: 'message', body: { request: 'info', id: 1 } });
  const info = r.plugindata?.data?.info as { type: string; viewers: number; media?: { type: string; age_ms?: number }[] } | undefined;
  return { type: info?.type ?? '', viewers: info?.viewers ?? 0, videoAgeMs: info?.media?.find((m) => m.type === 'video')?.age_ms };
}

describe('Janus pulling camd RTSP (README recipe)', () => {
  it('Chromium plays the stream from Janus while camd serves one RTSP reader', async () => {
    removeNetwork = ensureBrowserNetwork();
    const [rtspPort, janusPort] = [await freePort(), await freePort()];
    host = await createTestHost({ plugins: [{ def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } }] });
    const proc = janus(janusPort, `rtsp://viewer:viewer-secret@127.0.0.1:${rtspPort}/stream1`, browserAddress());
    const base = `http://127.0.0.1:${janusPort}`;
    try {
      const [session] = await Promise.all([
        until(() => call(base, '/janus', { janus: 'create' }).catch(() => undefined), 20_000, 'Janus to answer'),
        launchChromium().then((c) => (chromium = c)),
      ]);
      // The test's own handle on the mountpoint, for Janus's view: video arrives from camd, then who watches.
      const sid = session.data.id as number;
      const handle = `/janus/${sid}/${(await call(base, `/janus/${sid}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id}`;
      const info = await until(
        async () => {
          const m = await mountpoint(base, handle);
          return m.videoAgeMs !== undefined && m.videoAgeMs < 1000 ? m : undefined;
        },
        30_000,
        'Janus to receive video from camd',
      );
      expect(info.type).toBe('live');

      // A browser watches from Janus: it decodes frames, and its <video> plays at camd's size.
      const first = await openViewer(chromium!.browser, base);
      const a = await until(
        async () => {
          const p = await playback(first);
          return p.framesDecoded > 30 && p.width > 0 && p.time > 0 ? p : undefined;
        },
        20_000,
        'Chromium to decode frames from Janus',
      );
      expect([a.width, a.height, a.paused]).toEqual([320, 240, false]);
      expect(await rtspSessions(host)).toBe(1);

      // A second viewer: both pages keep decoding, Janus counts two viewers, camd still one RTSP reader.
      const second = await openViewer(chromium!.browser, base);
      const b = await until(
        async () => {
          const p = await playback(second);
          return p.framesDecoded > 30 && p.width > 0 ? p : undefined;
        },
        20_000,
        'the second page to decode frames from Janus',
      );
      expect([b.width, b.height, b.paused]).toEqual([320, 240, false]);
      await until(async () => (await playback(first)).framesDecoded > a.framesDecoded + 30, 10_000, 'the first page to keep decoding');
      expect((await mountpoint(base, handle)).viewers).toBe(2);
      expect(await rtspSessions(host)).toBe(1);
    } catch (err) {
      // Janus's last lines tell why a mountpoint or a peer connection failed.
      (err as Error).message += `\nJanus: ${proc.lines.slice(-15).join('\n  ')}`;
      throw err;
    }
  });
});
