/**
 * Cameras that encode themselves, for `pnpm bench native` (cases `passthrough` and `mjpeg`). The
 * cameras are the test stand-ins (@camd/core/testing): videotestsrc ! x264enc (ultrafast) or
 * videotestsrc ! jpegenc behind a GStreamer device provider, so "reading the camera" costs this
 * machine the stand-in's own encoding, on both sides of every comparison.
 *
 * - passthrough: a camera's H.264 1080p30 taken as it is. camd's whole tree against gst-launch-1.0
 *   reading the same camera with the same controls into a sink: target ≤ 0.05 cores above it. The
 *   same stream decoded and encoded again (`passthrough: false`: avdec_h264 + x264enc) is printed
 *   next to it.
 * - mjpeg: an MJPEG-only camera at 1080p30 to H.264 (jpegdec + x264enc), camd's tree against the
 *   gst-launch equivalent of its pipeline (gst-equivalent.ts): ratio ≤ 1.15.
 */
// The stand-ins alone (no test host): their folder, environment and camera files.
import { useStandins, type StandinCamera } from '../packages/core/src/testing/standins.js';
import { startCamd, type Camd } from './camd.js';
import { nativeLaunch } from './gst-equivalent.js';
import { CPU_TARGET, cpuVerdict, fmtCores, measureCamd, measureGst, REPEAT, row, sleep, waitLaunches, WARMUP } from './native.js';

const PASSTHROUGH_TARGET = 0.05;
const HD30 = { path: '/stream1', resolution: '1920x1080', fps: 30, bitrate: 4_000_000, profile: 'high' };
const EXPECTED = { stream1: 30 };

const H264_CAMERA: StandinCamera = {
  name: 'Stand-in H.264 camera',
  format: 'h264',
  modes: [{ width: 1920, height: 1080, rates: [30] }],
  controls: ['video_bitrate', 'h264_i_frame_period', 'force_key_frame'],
};
const MJPEG_CAMERA: StandinCamera = { name: 'Stand-in MJPEG camera', format: 'jpeg', modes: [{ width: 1920, height: 1080, rates: [30] }] };

/** Runs camd on one stream, waits for its pipeline and the warm-up, then `fn`. */
async function withCamd<T>(stream: Record<string, unknown>, fn: (camd: Camd, launch: string) => Promise<T>): Promise<T> {
  const camd = await startCamd({ plugins: ['@camd/plugin-rtsp'], streams: [stream] });
  try {
    const [launch] = await waitLaunches(camd, 1);
    await sleep(WARMUP);
    return await fn(camd, launch!);
  } finally {
    await camd.stop();
  }
}

const sinkOf = (name: string) => `fpsdisplaysink name=out_${name} text-overlay=false video-sink=fakesink sync=false`;

export async function passthroughCase(): Promise<void> {
  console.log("\n[passthrough: a camera's own H.264 1080p30 (stand-in), camd against reading the camera alone]");
  const standins = useStandins();
  try {
    const cam = standins.plug('h264-1080p30', H264_CAMERA);
    for (let rep = 1; rep <= REPEAT; rep++) {
      let alone = '';
      const pass = await withCamd({ ...HD30, source: cam }, async (camd, launch) => {
        if (!/ ! h264parse /.test(launch) || /name=encoder/.test(launch)) throw new Error(`camd did not pass the camera's H.264 through: ${launch}`);
        // The camera as camd opens it (its element, device, controls) and the caps camd asks, into a sink.
        const [source, caps] = launch.split(' ! ');
        alone = `${source} ! ${caps} ! ${sinkOf('stream1')}`;
        if (rep === 1) console.log(`  camd's pipeline:\n    ${launch}\n  the camera alone:\n    ${alone}`);
        return measureCamd(camd);
      });
      const device = await measureGst(alone);
      const decoded = await withCamd({ ...HD30, source: cam, passthrough: false }, async (camd, launch) => {
        if (rep === 1) console.log(`  decoded and encoded again (passthrough: false):\n    ${launch}`);
        return measureCamd(camd);
      });
      const above = pass.cores - device.cores;
      const signed = (x: number, d: number) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;
      const ok = cpuVerdict(0, pass.fps, device.fps, EXPECTED);
      row(
        `passthrough H.264 1080p30, rep ${rep}: cores above reading the camera`,
        fmtCores(pass, pass.fps),
        fmtCores(device, device.fps),
        undefined,
        `≤ +${PASSTHROUGH_TARGET}`,
        ok === 'pass' ? `${above <= PASSTHROUGH_TARGET ? 'pass' : 'FAIL'} (${signed(above, 3)})` : ok,
      );
      row(
        `same stream decoded + x264 (passthrough: false), rep ${rep}`,
        fmtCores(decoded, decoded.fps),
        fmtCores(device, device.fps),
        undefined,
        '',
        `info (${signed(decoded.cores - device.cores, 2)} cores above the camera)`,
      );
    }
  } finally {
    standins.cleanup();
  }
}

export async function mjpegCase(): Promise<void> {
  console.log('\n[MJPEG camera 1080p30 (stand-in) → H.264: camd against the gst-launch equivalent]');
  const standins = useStandins();
  try {
    const cam = standins.plug('mjpeg-1080p30', MJPEG_CAMERA);
    for (let rep = 1; rep <= REPEAT; rep++) {
      let equivalent = '';
      const run = await withCamd({ ...HD30, source: cam }, async (camd, launch) => {
        if (!/image\/jpeg,.* ! jpegdec ! /.test(launch)) throw new Error(`camd did not decode the camera's JPEG: ${launch}`);
        equivalent = nativeLaunch([{ name: 'stream1', launch }]);
        if (rep === 1) console.log(`  camd's pipeline:\n    ${launch}\n  gst-launch-1.0 equivalent:\n    ${equivalent}`);
        return measureCamd(camd);
      });
      const gst = await measureGst(equivalent);
      const ratio = run.cores / gst.cores;
      row(
        `MJPEG 1080p30 → H.264, rep ${rep}`,
        fmtCores(run, run.fps),
        fmtCores(gst, gst.fps),
        ratio,
        `≤ ${CPU_TARGET}`,
        cpuVerdict(ratio, run.fps, gst.fps, EXPECTED),
      );
    }
  } finally {
    standins.cleanup();
  }
}
