import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, useStandins, type StandinCamera, type TestHost } from '../../testing/index.js';
import type { StreamManager } from './manager.js';

/**
 * Cameras as the device probe (GstDeviceMonitor) finds them, proven with the stand-in device provider
 * (packages/core/standins): cameras that deliver raw frames only, MJPEG only, or H.264, backed by
 * videotestsrc, videotestsrc ! jpegenc and videotestsrc ! x264enc. Their files are their device
 * nodes: removing one unplugs the camera.
 */
const standins = useStandins();
afterAll(() => standins.cleanup());

const RAW: StandinCamera = {
  name: 'Stand-in raw camera',
  format: 'raw',
  modes: [
    { width: 640, height: 480, rates: [30, 15] },
    { width: 320, height: 240, rates: [30] },
  ],
};
const MJPEG: StandinCamera = { name: 'Stand-in MJPEG camera', format: 'jpeg', modes: [{ width: 640, height: 480, rates: [30] }] };
const H264: StandinCamera = {
  name: 'Stand-in H.264 camera',
  format: 'h264',
  modes: [
    { width: 640, height: 480, rates: [30] },
    { width: 320, height: 240, rates: [15] },
  ],
  controls: ['video_bitrate', 'h264_i_frame_period', 'force_key_frame'],
};

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
  for (const f of ['raw', 'mjpeg', 'h264', 'h264-bare']) standins.unplug(f);
});

interface StreamStats {
  state: string;
  sourcePath: string;
  source: { why: string };
  encoder: { element: string; family: string; hardware: boolean; passthrough: boolean; bitrate: string; notes?: Record<string, string> };
  width: number;
  height: number;
  uptime: number;
  restarts: number;
}
const stats = async (h: TestHost) => ((await (await h.fetch('/api/stats')).json()) as Record<string, StreamStats>).stream1!;
const playing = (h: TestHost) => until(async () => ((await stats(h)).state === 'playing' ? stats(h) : undefined), 30_000, 'stream1 playing');
const manager = (h: TestHost) => h.host.media as StreamManager;

describe('cameras from the device probe (stand-ins)', () => {
  it('GET /api/devices lists every camera with its formats, sizes, rates, controls and the streams reading it (Media_r)', async () => {
    const raw = standins.plug('raw', RAW);
    const h264 = standins.plug('h264', H264);
    host = await createTestHost({ config: { streams: [testStream({ source: raw })] } });
    const res = await host.fetch('/api/devices', { user: host.users.viewer });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { devices: Array<Record<string, unknown>>; missing: unknown[] };
    const byPath = Object.fromEntries(body.devices.map((d) => [d.path, d]));
    expect(byPath[raw]).toMatchObject({
      name: 'Stand-in raw camera',
      api: 'camd-standin',
      element: `camdstandinsrc device=${raw}`,
      streams: ['stream1'],
      modes: [
        { format: 'raw', width: 640, height: 480, maxFps: 30, rates: [30, 15] },
        { format: 'raw', width: 320, height: 240, maxFps: 30, rates: [30] },
      ],
    });
    expect(byPath[h264]).toMatchObject({ streams: [], controls: ['video_bitrate', 'h264_i_frame_period', 'force_key_frame'] });
    expect(body.missing).toEqual([]);
    expect((await host.fetch('/api/devices', { user: host.users.nobody })).status).toBe(403);
  });

  it("a stream's size and rate are validated against its camera: 400 lists what it offers; the config at start too", async () => {
    const raw = standins.plug('raw', RAW);
    host = await createTestHost({ config: { streams: [testStream({ source: raw })] } });
    const h = host;
    const before = await playing(h);
    expect(before.sourcePath).toBe('raw');
    expect(manager(h).launchText('stream1')).toMatch(/^camdstandinsrc device=\S+ name=camd_source ! video\/x-raw,width=320,height=240,framerate=30\/1 ! queue/);
    const big = await putState(h, 'streamResolution', '1280x720', h.users.operator);
    expect(big.status).toBe(400);
    expect(((await big.json()) as { message: string }).message).toMatch(
      new RegExp(
        `^streamResolution "1280x720": ${raw} \\(Stand-in raw camera\\) delivers at most 640x480 up to 30 fps, 320x240 up to 30 fps \\(GstDeviceMonitor;`,
      ),
    );
    expect((await putState(h, 'streamFramerate', 60, h.users.operator)).status).toBe(400);
    expect((await putState(h, 'streamResolution', '640x480', h.users.operator)).status).toBe(200);
    await until(async () => (await stats(h)).width === 640 && (await stats(h)).state === 'playing', 20_000, 'stream1 at 640x480');
    await h.close();
    host = undefined;
    await expect(createTestHost({ config: { streams: [testStream({ source: raw, resolution: '1280x720' })] } })).rejects.toThrow(
      /config streams\[0\] "stream1": 1280x720 at 15 fps \(h264\): .*delivers at most 640x480 up to 30 fps/,
    );
  });

  it('an MJPEG-only camera is decoded (jpegdec) and scaled; the picture is whole', async () => {
    const mjpeg = standins.plug('mjpeg', MJPEG);
    host = await createTestHost({ config: { streams: [testStream({ source: mjpeg })] } });
    const s = await playing(host);
    expect(s.sourcePath).toBe('jpeg-decode');
    expect(s.source.why).toMatch(/the camera delivers JPEG 640x480 at 30 fps, decoded by jpegdec/);
    expect(manager(host).launchText('stream1')).toMatch(
      /^camdstandinsrc \S+ name=camd_source ! image\/jpeg,width=640,height=480,framerate=30\/1 ! jpegdec ! queue .* ! x264enc name=encoder/,
    );
    // A snapshot is the H.264 stream decoded again by ffmpeg: 320x240, a real picture.
    const snap = await host.fetch('/api/streams/stream1/snapshot.jpg');
    expect(snap.status).toBe(200);
    const jpeg = Buffer.from(await snap.arrayBuffer());
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(sofSize(jpeg)).toEqual({ width: 320, height: 240 });
  });

  it('a hardware JPEG decoder that passed its trial decodes the MJPEG camera; without its device, jpegdec does', async () => {
    const mjpeg = standins.plug('mjpeg', MJPEG);
    standins.node('video10', true);
    try {
      host = await createTestHost({ config: { streams: [testStream({ source: mjpeg })] } });
      const s = await playing(host);
      expect(s.sourcePath).toBe('jpeg-decode');
      expect(s.source.why).toMatch(/decoded by v4l2jpegdec \(hardware\)/);
      expect(manager(host).launchText('stream1')).toMatch(/ ! image\/jpeg,width=640,height=480,framerate=30\/1 ! v4l2jpegdec ! /);
      expect(host.recentLog()).toMatch(/v4l2jpegdec passed its trial/);
    } finally {
      standins.node('video10', false);
    }
  });

  it("passthrough: the camera's H.264 at the stream's size and rate, no encoder; bitrate and keyframes go to its controls, live", async () => {
    const h264 = standins.plug('h264', H264);
    // A GOP of 10 s: a keyframe within it can only come from a request.
    host = await createTestHost({ config: { streams: [testStream({ source: h264, gop: 150 })] } });
    const h = host;
    const s = await playing(h);
    expect(s.sourcePath).toBe('passthrough');
    expect(s.encoder).toMatchObject({ element: 'camdstandinsrc', family: 'camera', hardware: true, passthrough: true, bitrate: 'live (extra-controls)' });
    expect(s.encoder.notes).toMatchObject({
      bitrate: 'video_bitrate control, changed while playing',
      gop: 'h264_i_frame_period control',
      keyframes: 'force_key_frame control',
    });
    const m = manager(h);
    const launch = m.launchText('stream1')!;
    expect(launch).toBe(
      `camdstandinsrc device=${h264} name=camd_source extra-controls="controls,video_bitrate=500000,h264_i_frame_period=150" ! video/x-h264,width=320,height=240,framerate=15/1 ! ` +
        'h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! gdppay ! fdsink name=camd_media_out sync=false',
    );
    expect(launch).not.toMatch(/name=encoder|x264enc|avdec|videoconvert/);
    // What the camera's own encoder was told, through its controls.
    expect(await m.elementProperty('stream1', 'camera_encoder', 'bitrate')).toBe(500);
    expect(await m.elementProperty('stream1', 'camera_encoder', 'key-int-max')).toBe(150);
    const pipeline = m.pipelineId('stream1');
    expect((await putState(h, 'streamBitrate', 900_000, h.users.operator)).status).toBe(200);
    await until(async () => (await m.elementProperty('stream1', 'camera_encoder', 'bitrate')) === 900, 10_000, 'the camera at 900 kbit/s');
    expect(m.pipelineId('stream1')).toBe(pipeline);
    // A keyframe request (a new RTSP/WebRTC reader) reaches the camera's force_key_frame control.
    const keyframes: number[] = [];
    const consumer = h.host.hub.subscribe('stream1', {
      name: 'test',
      startWithCachedGop: true,
      onFrame: (f) => void (f.keyframe && keyframes.push(performance.now())),
    });
    try {
      await until(() => keyframes.length > 0, 15_000, 'a first keyframe');
      const asked = performance.now();
      h.host.hub.requestKeyframe('stream1');
      await until(() => keyframes.some((t) => t > asked), 5000, 'a keyframe after the request (the GOP is 10 s)');
    } finally {
      consumer.close();
    }
  });

  it('a camera without controls: passthrough all the same, the stats say the bitrate is not applied, a change rebuilds nothing', async () => {
    const bare = standins.plug('h264-bare', { ...H264, name: 'Stand-in H.264 camera without controls', controls: [] });
    host = await createTestHost({ config: { streams: [testStream({ source: bare })] } });
    const h = host;
    const s = await playing(h);
    expect(s.sourcePath).toBe('passthrough');
    expect(s.encoder.bitrate).toBe('not applied: the camera has no video_bitrate control');
    expect(s.encoder.notes?.keyframes).toMatch(/^not applied: the camera has no force_key_frame control; keyframes come at the camera's own interval/);
    const pipeline = manager(h).pipelineId('stream1');
    expect((await putState(h, 'streamBitrate', 900_000, h.users.operator)).status).toBe(200);
    await until(() => h.recentLog().includes('settings applied to the running pipeline'), 5000, 'the change handled');
    expect(manager(h).pipelineId('stream1')).toBe(pipeline);
  });

  it('no passthrough when the stream differs from every H.264 mode, or the config turns it off: decoded and encoded', async () => {
    const h264 = standins.plug('h264', H264);
    host = await createTestHost({ config: { streams: [testStream({ source: h264, passthrough: false })] } });
    const s = await playing(host);
    expect(s.sourcePath).toBe('decode');
    expect(s.source.why).toMatch(/decoded by avdec_h264 \(its own H\.264 is not passed through: passthrough is off in the config\)/);
    expect(s.encoder).toMatchObject({ element: 'x264enc', passthrough: false });
    expect(manager(host).launchText('stream1')).toMatch(/video\/x-h264,width=320,height=240,framerate=15\/1 ! h264parse ! avdec_h264 ! queue .* ! x264enc/);
  });

  it('unplugged: health fails naming the camera; plugged back: the stream plays again', async () => {
    const raw = standins.plug('raw', RAW);
    host = await createTestHost({ config: { streams: [testStream({ source: raw })] } });
    const h = host;
    await playing(h);
    expect((await h.fetch('/api/health')).status).toBe(200);
    standins.unplug('raw');
    // The pipeline fails first (the camera stops delivering), then health names the camera.
    const check = await until(
      async () => {
        const r = await h.fetch('/api/health');
        const body = (await r.json()) as { checks: Array<{ name: string; healthy: boolean; detail?: string }> };
        const c = body.checks.find((x) => x.name === 'stream:stream1')!;
        return r.status === 503 && !c.healthy && c.detail?.startsWith(`camera ${raw}`) && c;
      },
      10_000,
      'health to fail naming the camera',
    );
    expect(check.detail).toMatch(new RegExp(`^camera ${raw} is unplugged \\(since .*\\); the stream restarts when it is back`));
    const devices = (await (await h.fetch('/api/devices')).json()) as { missing: Array<{ path: string; streams: string[]; unpluggedSince?: string }> };
    expect(devices.missing, JSON.stringify(devices)).toEqual([{ path: raw, streams: ['stream1'], unpluggedSince: expect.any(String) }]);
    const restarts = (await stats(h)).restarts;
    standins.plug('raw', RAW);
    // The probe sees it again and its stream restarts at once (not after its backoff).
    await until(() => h.recentLog().includes(`camera ${raw} is back: restarting its streams`), 20_000, 'the camera seen again');
    await until(async () => (await h.fetch('/api/health')).status === 200, 20_000, 'health back after the camera came back');
    // Health counts a stream that is starting again as healthy: playing follows.
    const after = await playing(h);
    expect(after.restarts).toBeGreaterThan(restarts);
    expect(((await (await h.fetch('/api/devices')).json()) as { missing: unknown[] }).missing).toEqual([]);
  });
});

/** Width and height from a JPEG's SOF0/SOF2 segment. */
function sofSize(jpeg: Buffer): { width: number; height: number } | undefined {
  for (let i = 2; i + 9 < jpeg.length; ) {
    if (jpeg[i] !== 0xff) return undefined;
    const marker = jpeg[i + 1]!;
    const len = jpeg.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) return { height: jpeg.readUInt16BE(i + 5), width: jpeg.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return undefined;
}
