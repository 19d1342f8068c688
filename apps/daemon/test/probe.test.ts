import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testStream, useStandins, type StandinCamera } from '@camd/core/testing';
import { runCamd } from './daemon-process.js';

/**
 * `camd probe` on a "board" made of stand-ins (@camd/core/testing): a VA encoder whose render node
 * exists, V4L2/Jetson/Rockchip encoders whose nodes do not, a camera with its own H.264 and an
 * MJPEG-only one. What the command prints is what a person at a new board reads first.
 */
const standins = useStandins({ nodes: ['renderD128'] });
const dir = mkdtempSync(join(tmpdir(), 'camd-probe-test-'));
afterAll(() => {
  standins.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const H264: StandinCamera = {
  name: 'Stand-in H.264 camera',
  format: 'h264',
  modes: [{ width: 320, height: 240, rates: [15] }],
  controls: ['video_bitrate', 'h264_i_frame_period', 'force_key_frame'],
};
const MJPEG: StandinCamera = { name: 'Stand-in MJPEG camera', format: 'jpeg', modes: [{ width: 640, height: 480, rates: [30] }] };

describe('camd probe', () => {
  const h264 = standins.plug('h264', H264);
  const mjpeg = standins.plug('mjpeg', MJPEG);
  const config = join(dir, 'camd.json');
  writeFileSync(
    config,
    JSON.stringify({
      users: [{ username: 'a', password: 'pw', permissions: ['Admin'] }],
      streams: [testStream({ source: h264 }), testStream({ path: '/stream2', source: mjpeg })],
    }),
  );
  const stateDir = join(dir, 'state');

  it('prints the cameras, the encoders with their trials, and the path and encoder each stream would get; starts nothing, writes nothing', async () => {
    const r = await runCamd(['probe', '--config', config, '--state-dir', stateDir]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('Cameras (GstDeviceMonitor, Video/Source)');
    expect(out).toContain(`${h264}  Stand-in H.264 camera (camd-standin)`);
    expect(out).toContain(`    opened with: camdstandinsrc device=${h264}`);
    expect(out).toContain('    h264 320x240 at 15 fps');
    expect(out).toContain('    controls: video_bitrate, h264_i_frame_period, force_key_frame');
    expect(out).toContain('    jpeg 640x480 at 30 fps');
    expect(out).toMatch(/h264 +vah264enc +hardware, va +trial passed \(\d+ ms\)/);
    expect(out).toMatch(/h264 +v4l2h264enc +hardware, v4l2 +trial FAILED: Cannot identify device '.*video11'/);
    expect(out).toMatch(/h264 +x264enc +software +trial passed/);
    expect(out).toMatch(/jpeg +jpegdec +software +trial passed/);
    expect(out).toMatch(/h265 +nvv4l2h265enc +hardware, jetson +trial FAILED: Cannot identify device '.*nvhost-msenc'/);
    expect(out).toContain(`stream1: ${h264} → 320x240 at 15 fps, h264 main, 500000 bit/s`);
    expect(out).toMatch(/ {4}source path: passthrough \(the camera delivers H\.264 320x240 at 15 fps and no filter needs raw frames/);
    expect(out).toContain(`stream2: ${mjpeg} → 320x240 at 15 fps`);
    expect(out).toMatch(/ {4}source path: jpeg-decode \(the camera delivers JPEG 640x480 at 30 fps, decoded by jpegdec\)/);
    expect(out).toMatch(/ {4}encoder: vah264enc \(hardware\): hardware \(va\), trial encode passed in \d+ ms, after v4l2h264enc failed its trial encode/);
    expect(out).toMatch(/ {4}pipeline: camdstandinsrc .* ! jpegdec ! .* vah264enc name=encoder/);
    // A probe is no first start: no state dir (no administrator created and forgotten).
    expect(existsSync(stateDir)).toBe(false);
  });

  it('--json gives the same report as data', async () => {
    const r = await runCamd(['probe', '--config', config, '--state-dir', stateDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      devices: Array<{ path: string; streams: string[] }>;
      encoders: Array<{ element: string; trial?: { ok: boolean } }>;
      streams: Array<{ name: string; path: string; encoder: string; hardware: boolean }>;
    };
    expect(report.devices.find((d) => d.path === h264)?.streams).toEqual(['stream1']);
    expect(report.encoders.find((e) => e.element === 'vah264enc')?.trial?.ok).toBe(true);
    // The derived encoders for WebRTC clients without H.264 are tried too.
    for (const e of ['vp8enc', 'vp9enc', 'av1enc']) expect(report.encoders.find((x) => x.element === e)?.trial?.ok, e).toBe(true);
    expect(report.streams).toMatchObject([
      { name: 'stream1', path: 'passthrough', encoder: 'camdstandinsrc', hardware: true },
      { name: 'stream2', path: 'jpeg-decode', encoder: 'vah264enc', hardware: true },
    ]);
  });
});
