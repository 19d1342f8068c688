import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { until, testStream, useStandins, type StandinCamera } from '@camd/core/testing';
import { ffprobe, rtspHost, run, type RtspTestHost } from './test-utils.js';

/**
 * Cameras that deliver H.264 or MJPEG themselves (stand-ins from @camd/core/testing: videotestsrc !
 * x264enc and videotestsrc ! jpegenc behind a device provider), read by real RTSP clients.
 */
const standins = useStandins();
afterAll(() => standins.cleanup());

const H264: StandinCamera = {
  name: 'Stand-in H.264 camera',
  format: 'h264',
  modes: [{ width: 320, height: 240, rates: [15] }],
  controls: ['video_bitrate', 'h264_i_frame_period', 'force_key_frame'],
};
const MJPEG: StandinCamera = { name: 'Stand-in MJPEG camera', format: 'jpeg', modes: [{ width: 640, height: 480, rates: [30] }] };

let h: RtspTestHost | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** ffmpeg decodes `frames` pictures of the stream (not a copy: a stream it cannot decode fails). */
async function decodes(url: string, frames: number): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-frames:v', String(frames), '-f', 'null', '-'], {
    timeout: 30_000,
  });
  return stderr;
}

const sourcePath = async (host: RtspTestHost) =>
  ((await (await host.fetch('/api/stats')).json()) as Record<string, { sourcePath?: string; state: string }>).stream1;

describe('plugin-rtsp: cameras that encode themselves', () => {
  it("a camera's own H.264, passed through without re-encoding, plays in ffprobe and ffmpeg", async () => {
    const cam = standins.plug('h264', H264);
    h = await rtspHost([testStream({ source: cam })]);
    const host = h;
    await until(async () => (await sourcePath(host))?.state === 'playing', 30_000, 'stream1 playing');
    expect((await sourcePath(host))!.sourcePath).toBe('passthrough');
    const probe = await ffprobe(host.url());
    expect(probe.streams?.[0]).toMatchObject({ codec_name: 'h264', width: 320, height: 240, r_frame_rate: '15/1' });
    expect(await decodes(host.url(), 20)).toBe('');
  });

  it('an MJPEG-only camera is decoded and encoded as H.264 for RTSP readers', async () => {
    const cam = standins.plug('mjpeg', MJPEG);
    h = await rtspHost([testStream({ source: cam, resolution: '640x480', fps: 30 })]);
    const host = h;
    await until(async () => (await sourcePath(host))?.state === 'playing', 30_000, 'stream1 playing');
    expect((await sourcePath(host))!.sourcePath).toBe('jpeg-decode');
    expect((await ffprobe(host.url())).streams?.[0]).toMatchObject({ codec_name: 'h264', width: 640, height: 480 });
    expect(await decodes(host.url(), 20)).toBe('');
  });
});
