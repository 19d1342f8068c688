/**
 * On a camera every stream shares one capture (/dev/video0). These tests run the daemon as a user
 * does, with a shared test pattern in place of the device, and read both streams over RTSP with
 * ffprobe: for every plugin set, from start, after each setting change, and after a crash of the
 * media process (which holds the capture).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { basicAuth, freePort, putState, testStream } from '@camd/core/testing';
import { childPids, startDaemon, type DaemonProcess } from './daemon-process.js';

const run = promisify(execFile);
const viewer = { username: 'viewer', password: 'viewerpw1', permissions: ['Media_r'] };
const oper = { username: 'oper', password: 'operpw1', permissions: ['Media_rw'] };
const SAME = 'videotestsrc:smpte';
/** The two default streams on one source (ultrafast keeps two encoders, a compositor and two decoders within two cores). */
const STREAMS = [
  testStream({ resolution: '1920x1080', fps: 60, bitrate: 8_000_000, profile: 'high', preset: 'ultrafast', source: SAME }),
  testStream({ path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'main', preset: 'ultrafast', source: SAME }),
];
/**
 * Every plugin at once on the same shared source, at 720p30 + 360p30. At 1080p60 this is more than a
 * 2-core machine of CI's kind does: there plain gst-launch-1.0 of the same pipelines gives stream1
 * 28–33 fps (`NATIVE_CASES=pip pnpm bench native` prints it next to camd's); the 1080p60 figures with
 * every plugin are that benchmark's, and the tests above run each plugin on the default 1080p60 + 720p30.
 */
const LIGHT_STREAMS = [
  testStream({ resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'high', preset: 'ultrafast', source: SAME }),
  testStream({ path: '/stream2', resolution: '640x360', fps: 30, bitrate: 1_000_000, profile: 'main', preset: 'ultrafast', source: SAME }),
];
const SECONDS = 2;
/** The streams of the daemon the running test started (sizes and rates to expect). */
let current = STREAMS;
const size = (s: (typeof STREAMS)[number]) => {
  const [width, height] = s.resolution!.split('x').map(Number);
  return { width, height };
};

let daemon: DaemonProcess | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

async function start(plugins: string[], streams = STREAMS): Promise<{ d: DaemonProcess; rtsp: number }> {
  const rtsp = await freePort();
  current = streams;
  daemon = await startDaemon({ users: [viewer, oper], plugins, rtsp: { enabled: true, port: rtsp, streams } });
  return { d: daemon, rtsp };
}

/** What a client got of a stream over RTSP. */
interface Received {
  width: number;
  height: number;
  /** Access units ffprobe read in `SECONDS` of the stream's own time (counted without decoding). */
  frames: number;
  /** The smallest step between their timestamps, in seconds. */
  minStep: number;
  /** Frames ffmpeg then decoded (10 asked). */
  decoded: number;
}

/**
 * What a client gets of a stream over RTSP: the access units ffprobe receives in `SECONDS` and their
 * timestamps (read without decoding, so the count measures camd, not this machine's decoder), the
 * picture size, and then ffmpeg decoding frames of it.
 */
async function received(rtsp: number, path: string): Promise<Received> {
  const url = `rtsp://${viewer.username}:${viewer.password}@127.0.0.1:${rtsp}${path}`;
  const { stdout } = await run(
    'ffprobe',
    [
      '-v',
      'error',
      '-rtsp_transport',
      'tcp',
      '-read_intervals',
      `%+${SECONDS}`,
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time:stream=width,height',
      '-of',
      'json',
      url,
    ],
    { timeout: 30_000, maxBuffer: 16 << 20 },
  );
  const probe = JSON.parse(stdout) as { streams: Array<{ width: number; height: number }>; packets?: Array<{ pts_time?: string }> };
  const pts = (probe.packets ?? [])
    .map((p) => Number(p.pts_time))
    .filter(Number.isFinite)
    .sort((x, y) => x - y);
  const minStep = Math.min(...pts.slice(1).map((t, i) => t - pts[i]!));
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-frames:v', '10', '-f', 'null', '-progress', 'pipe:2', '-'], {
    timeout: 30_000,
  });
  const decoded = Number([...stderr.matchAll(/^frame=(\d+)/gm)].at(-1)?.[1] ?? 0);
  const { width, height } = probe.streams[0]!;
  return { width, height, frames: pts.length, minStep, decoded };
}

/**
 * Both streams play at their own size and on their own timeline, and keep delivering:
 * - size, and 10 frames decode;
 * - timeline: never more frames than the nominal rate gives (a stream fed its sibling's faster
 *   capture fails this), and some frames as close as 1/fps (a capture negotiated at a slower rate
 *   fails this). Both hold on a loaded machine, which only drops frames: each stream's videorate is
 *   drop-only and keeps capture times, so after drops the steps are multiples of the capture's;
 * - delivery: at least a quarter of the nominal rate (a stream that stalls or dies fails this).
 * The delivered rate itself is a speed figure that depends on what else the machine runs (quiet CI
 * machine, 1080p60 + 720p30: 55–60 and 30 fps; with one core kept busy, stream1 24–58): `pnpm bench
 * native` prints camd's next to plain gst-launch-1.0 of the same pipelines.
 */
async function expectBothPlaying(rtsp: number): Promise<void> {
  const got = await Promise.all([received(rtsp, '/stream1'), received(rtsp, '/stream2')]);
  got.forEach((r, i) => {
    const s = current[i]!;
    const what = `stream${i + 1} (${s.resolution}@${s.fps}): ${JSON.stringify(r)}`;
    expect(r, what).toMatchObject({ ...size(s), decoded: 10 });
    expect(r.frames, what).toBeLessThanOrEqual(1.1 * s.fps! * SECONDS + 2);
    expect(r.minStep, what).toBeLessThanOrEqual(1.05 / s.fps!);
    expect(r.frames, what).toBeGreaterThanOrEqual(0.25 * s.fps! * SECONDS);
  });
}

async function put(d: DaemonProcess, key: string, value: unknown): Promise<void> {
  expect((await putState(d, key, value, oper)).status, `PUT ${key}`).toBe(200);
}

/** The frame rate the daemon's encoder of a stream made over the last 2 s (`/api/stats`). */
async function producedFps(d: DaemonProcess, name: string): Promise<number> {
  const r = await fetch(`${d.baseUrl}/api/stats`, { headers: { authorization: basicAuth(viewer) } });
  return ((await r.json()) as Record<string, { fps: number }>)[name]!.fps;
}

/**
 * Waits until the daemon says both streams play again (after a rebuild or restart): both streams'
 * health checks, and the encoders producing frames. How fast they then deliver is what
 * `expectBothPlaying` asserts. Alignment's capture-to-daemon latency limit (100 ms) is not waited
 * for: with PiP at 1080p60 on two cores it sits near 100 ms, and it has tests of its own in core.
 */
async function healthy(d: DaemonProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await (await fetch(`${d.baseUrl}/api/health`)).text();
    const checks = (JSON.parse(body) as { checks: Array<{ name: string; healthy: boolean }> }).checks;
    const playing = ['stream:stream1', 'stream:stream2'].every((n) => checks.find((c) => c.name === n)?.healthy);
    const fps = playing ? await Promise.all([producedFps(d, 'stream1'), producedFps(d, 'stream2')]) : undefined;
    if (fps?.every((f) => f > 0)) return;
    if (Date.now() > deadline)
      throw new Error(`not playing again within ${timeoutMs} ms: ${fps ? `${fps.join(' / ')} fps` : body}\n${d.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Kills the media process (it holds the shared capture) and waits for both streams to play again. */
async function crashMedia(d: DaemonProcess): Promise<void> {
  const [media] = childPids(d.child.pid!);
  expect(media).toBeDefined();
  process.kill(media!, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  await healthy(d);
}

describe('streams on a shared source (as on a camera)', () => {
  it('timestamp: both streams play at their size and timing from start, after a setting change and after a media crash', async () => {
    const { d, rtsp } = await start(['@camd/plugin-rtsp', '@camd/plugin-timestamp']);
    await expectBothPlaying(rtsp);
    await put(d, 'timestampPosition', 'bottom-right');
    await put(d, 'timecodeEnabled', true);
    await expectBothPlaying(rtsp);
    await crashMedia(d);
    await expectBothPlaying(rtsp);
  });

  it('PiP in either layout: both streams play at their size and timing, also after a media crash', async () => {
    const { d, rtsp } = await start(['@camd/plugin-rtsp', '@camd/plugin-pip']);
    await put(d, 'pipEnabled', true);
    await healthy(d);
    await expectBothPlaying(rtsp);
    await put(d, 'pipLayout', { mainSource: 'secondary', pipSource: 'primary', pipPosition: 'top-left', pipScale: 0.3, pipBorder: false });
    await expectBothPlaying(rtsp);
    await crashMedia(d);
    await expectBothPlaying(rtsp);
  });

  it('ABR: both streams play at their size and timing, also after a bitrate change', async () => {
    const { d, rtsp } = await start(['@camd/plugin-rtsp', '@camd/plugin-abr']);
    await expectBothPlaying(rtsp);
    await put(d, 'streamBitrate', 6_000_000);
    await expectBothPlaying(rtsp);
  });

  it('every plugin at once (timestamp, PiP, ABR, WebRTC, ONVIF): 720p30 + 360p30 play at their size and timing, also after a resolution change and a media crash', {
    timeout: 120_000,
  }, async () => {
    const { d, rtsp } = await start(
      [
        '@camd/plugin-rtsp',
        '@camd/plugin-timestamp',
        '@camd/plugin-pip',
        '@camd/plugin-abr',
        '@camd/plugin-webrtc',
        { name: '@camd/plugin-onvif', options: { discoveryPort: 0 } },
      ] as string[],
      LIGHT_STREAMS,
    );
    await put(d, 'pipEnabled', true);
    await healthy(d);
    await expectBothPlaying(rtsp);
    await put(d, 'stream2.streamResolution', '480x270');
    await put(d, 'stream2.streamResolution', '640x360');
    await healthy(d);
    await expectBothPlaying(rtsp);
    await crashMedia(d);
    await expectBothPlaying(rtsp);
  });
});
