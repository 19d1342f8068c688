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
 * every plugin are that benchmark's, and the tests above hold each plugin to 1080p60's rate.
 */
const LIGHT_STREAMS = [
  testStream({ resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'high', preset: 'ultrafast', source: SAME }),
  testStream({ path: '/stream2', resolution: '640x360', fps: 30, bitrate: 1_000_000, profile: 'main', preset: 'ultrafast', source: SAME }),
];
const SECONDS = 3;
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

/**
 * What a client gets of a stream over RTSP: the access units ffprobe receives in `SECONDS` (counted
 * without decoding, so the count measures camd, not this machine's decoder) and the picture size,
 * and then ffmpeg decoding frames of it.
 */
async function received(rtsp: number, path: string): Promise<{ frames: number; width: number; height: number; decoded: number }> {
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
      '-count_packets',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_packets,width,height',
      '-of',
      'json',
      url,
    ],
    { timeout: 30_000 },
  );
  const s = (JSON.parse(stdout) as { streams: Array<{ nb_read_packets: string; width: number; height: number }> }).streams[0]!;
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-frames:v', '10', '-f', 'null', '-progress', 'pipe:2', '-'], {
    timeout: 30_000,
  });
  const decoded = Number([...stderr.matchAll(/^frame=(\d+)/gm)].at(-1)?.[1] ?? 0);
  return { frames: Number(s.nb_read_packets), width: s.width, height: s.height, decoded };
}

/** Both streams arrive at their size and (within what a loaded two-core runner allows) their rate, and decode. */
async function expectBothAtRate(rtsp: number): Promise<void> {
  const [s1, s2] = await Promise.all([received(rtsp, '/stream1'), received(rtsp, '/stream2')]);
  expect(s1).toMatchObject({ ...size(current[0]!), decoded: 10 });
  expect(s2).toMatchObject({ ...size(current[1]!), decoded: 10 });
  expect(s1.frames).toBeGreaterThanOrEqual(0.8 * current[0]!.fps! * SECONDS);
  expect(s2.frames).toBeGreaterThanOrEqual(0.8 * current[1]!.fps! * SECONDS);
}

async function put(d: DaemonProcess, key: string, value: unknown): Promise<void> {
  expect((await putState(d, key, value, oper)).status, `PUT ${key}`).toBe(200);
}

/**
 * Waits until the daemon says both streams play again (after a rebuild or restart) and are back at
 * their rate: both streams' health checks, then the daemon's own frame rate of each. A restarted
 * 1080p60 pipeline with every plugin plays at a reduced rate for its first seconds on two cores; what a
 * client then gets is what `expectBothAtRate` asserts. Alignment's capture-to-daemon latency limit
 * (100 ms) is not waited for: with PiP at 1080p60 on two cores it sits near 100 ms, and it has tests
 * of its own in core.
 */
async function healthy(d: DaemonProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const stats = async () =>
    (await (await fetch(`${d.baseUrl}/api/stats`, { headers: { authorization: basicAuth(viewer) } })).json()) as Record<string, { fps: number }>;
  for (;;) {
    const body = await (await fetch(`${d.baseUrl}/api/health`)).text();
    const checks = (JSON.parse(body) as { checks: Array<{ name: string; healthy: boolean }> }).checks;
    const playing = ['stream:stream1', 'stream:stream2'].every((n) => checks.find((c) => c.name === n)?.healthy);
    const s = playing ? await stats() : undefined;
    if (s && s.stream1!.fps >= 0.9 * current[0]!.fps! && s.stream2!.fps >= 0.9 * current[1]!.fps!) return;
    if (Date.now() > deadline)
      throw new Error(`not back at rate within ${timeoutMs} ms: ${s ? `${s.stream1!.fps} / ${s.stream2!.fps} fps` : body}\n${d.output().slice(-2000)}`);
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
  it('timestamp: both streams at their rate from start, after a setting change and after a media crash', async () => {
    const { d, rtsp } = await start(['@camd/plugin-rtsp', '@camd/plugin-timestamp']);
    await expectBothAtRate(rtsp);
    await put(d, 'timestampPosition', 'bottom-right');
    await put(d, 'timecodeEnabled', false);
    await expectBothAtRate(rtsp);
    await crashMedia(d);
    await expectBothAtRate(rtsp);
  });

  it('PiP in either layout: both streams at their rate, also after a media crash', async () => {
    const { d, rtsp } = await start(['@camd/plugin-rtsp', '@camd/plugin-pip']);
    await put(d, 'pipEnabled', true);
    await healthy(d);
    await expectBothAtRate(rtsp);
    await put(d, 'pipLayout', { mainSource: 'secondary', pipSource: 'primary', pipPosition: 'top-left', pipScale: 0.3, pipBorder: false });
    await expectBothAtRate(rtsp);
    await crashMedia(d);
    await expectBothAtRate(rtsp);
  });

  it('ABR: both streams at their rate, also after a bitrate change', async () => {
    const { d, rtsp } = await start(['@camd/plugin-rtsp', '@camd/plugin-abr']);
    await expectBothAtRate(rtsp);
    await put(d, 'streamBitrate', 6_000_000);
    await expectBothAtRate(rtsp);
  });

  it('every plugin at once (timestamp, PiP, ABR, WebRTC, ONVIF): 720p30 + 360p30 at their rate, also after a resolution change and a media crash', {
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
    await expectBothAtRate(rtsp);
    await put(d, 'stream2.streamResolution', '480x270');
    await put(d, 'stream2.streamResolution', '640x360');
    await healthy(d);
    await expectBothAtRate(rtsp);
    await crashMedia(d);
    await expectBothAtRate(rtsp);
  });
});
