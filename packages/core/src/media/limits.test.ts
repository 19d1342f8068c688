import { describe, expect, it } from 'vitest';
import { codecCeiling, encoderRefuses, levelLimits } from './encoder-limits.js';
import { describeModes, modesFromCaps, sourceRefuses, testSourceCapabilities } from './source-caps.js';

/**
 * What GStreamer 1.22's v4l2src reports in READY for a UVC webcam (Logitech C920-class, as
 * `gst-device-monitor-1.0 Video/Source` prints it): raw YUY2 sizes at low rates, the large ones as
 * JPEG and H.264 only. camd reads every one of them (raw, JPEG decoded, H.264 passed through or decoded).
 */
const UVC_CAPS =
  'video/x-raw, format=(string)YUY2, width=(int)640, height=(int)480, pixel-aspect-ratio=(fraction)1/1, framerate=(fraction){ 30/1, 24/1, 20/1, 15/1, 10/1 }; ' +
  'video/x-raw, format=(string)YUY2, width=(int)1280, height=(int)720, pixel-aspect-ratio=(fraction)1/1, framerate=(fraction){ 10/1, 15/2, 5/1 }; ' +
  'video/x-raw, format=(string)YUY2, width=(int)1920, height=(int)1080, pixel-aspect-ratio=(fraction)1/1, framerate=(fraction)5/1; ' +
  'image/jpeg, width=(int)1920, height=(int)1080, pixel-aspect-ratio=(fraction)1/1, framerate=(fraction){ 30/1, 24/1 }; ' +
  'video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, width=(int)1920, height=(int)1080, framerate=(fraction){ 30/1 }';

describe('encoder levels', () => {
  it('H.264: the seed 1080p60 fits level 4.2 (v4l2h264enc); 1440p and 1080p at 64 fps do not', () => {
    const l42 = levelLimits('h264', '4.2', 'v4l2h264enc');
    expect(encoderRefuses(l42, 1920, 1080, 60)).toBeUndefined();
    expect(encoderRefuses(l42, 2560, 1440, 30)).toBe('H.264 level 4.2 (v4l2h264enc) allows at most 8704 macroblocks a frame; 2560x1440 has 14400');
    expect(encoderRefuses(l42, 1920, 1080, 65)).toMatch(/at most 522240 macroblocks a second: 1920x1080 up to 64 fps/);
    expect(l42.maxSide).toBe(263 * 16);
  });

  it('H.264 and H.265 level 6.2 (x264, x265) refuse 7680x7680 (8K UHD fits); JPEG only its size fields', () => {
    expect(encoderRefuses(codecCeiling('h264'), 7680, 7680, 1)).toMatch(/139264 macroblocks a frame; 7680x7680 has 230400/);
    expect(encoderRefuses(codecCeiling('h264'), 7680, 4320, 30)).toBeUndefined();
    expect(encoderRefuses(codecCeiling('h265'), 7680, 7680, 1)).toMatch(/35651584 luma samples a frame/);
    expect(encoderRefuses(codecCeiling('h265'), 8192, 4320, 60)).toBeUndefined();
    expect(encoderRefuses(codecCeiling('mjpeg'), 7680, 7680, 240)).toBeUndefined();
    expect(encoderRefuses(codecCeiling('mjpeg'), 66_000, 16, 1)).toMatch(/65500 pixels a side/);
  });
});

describe('source capabilities', () => {
  it('reads a device’s modes from GStreamer caps: lists, single rates, fractions, every format', () => {
    const modes = modesFromCaps(UVC_CAPS);
    expect(modes).toEqual([
      { format: 'raw', width: 640, height: 480, maxFps: 30, rates: [30, 24, 20, 15, 10] },
      { format: 'raw', width: 1280, height: 720, maxFps: 10, rates: [10, 7.5, 5] },
      { format: 'raw', width: 1920, height: 1080, maxFps: 5, rates: [5] },
      { format: 'jpeg', width: 1920, height: 1080, maxFps: 30, rates: [30, 24] },
      { format: 'h264', width: 1920, height: 1080, maxFps: 30, rates: [30] },
    ]);
    // A camera that names its H.264 profiles.
    expect(modesFromCaps('video/x-h264, width=(int)1280, height=(int)720, framerate=(fraction)30/1, profile=(string){ main, high }')).toEqual([
      { format: 'h264', width: 1280, height: 720, maxFps: 30, rates: [30], profiles: ['main', 'high'] },
    ]);
    // Stepwise sensors give ranges; NTSC rates are fractions; caps features do not hide the format.
    expect(
      modesFromCaps(
        'video/x-raw(memory:DMABuf), format=(string)NV12, width=(int)[ 32, 4056, 2 ], height=(int)[ 32, 3040, 2 ], framerate=(fraction)[ 0/1, 30000/1001 ]',
      ),
    ).toEqual([{ format: 'raw', width: 4056, height: 3040, maxFps: 30000 / 1001 }]);
    // videotestsrc's template caps (any size, any rate) are no limit at all.
    expect(
      modesFromCaps(
        'video/x-raw, format=(string){ I420, NV12 }, width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ], framerate=(fraction)[ 0/1, 2147483647/1 ]',
      ),
    ).toEqual([]);
  });

  it('a size is produced by scaling down a mode of any format, at no more than its rate', () => {
    const cam = { describe: '/dev/video0', origin: "the device's caps", modes: modesFromCaps(UVC_CAPS) };
    expect(sourceRefuses(cam, 640, 360, 30)).toBeUndefined();
    expect(sourceRefuses(cam, 1280, 720, 10)).toBeUndefined();
    // 1080p30 and 720p15 come from the JPEG (or H.264) mode, not the slow YUY2 ones.
    expect(sourceRefuses(cam, 1280, 720, 15)).toBeUndefined();
    expect(sourceRefuses(cam, 1920, 1080, 30)).toBeUndefined();
    expect(sourceRefuses(cam, 1920, 1080, 60)).toBe(
      "/dev/video0 delivers at most 1920x1080 up to 30 fps (raw, jpeg, h264), 1280x720 up to 10 fps (raw), 640x480 up to 30 fps (raw) (the device's caps; smaller sizes are scaled down from these)",
    );
    // A raw-only camera's modes are named without formats.
    const raw = { ...cam, modes: cam.modes.filter((m) => m.format === 'raw') };
    expect(sourceRefuses(raw, 1280, 720, 15)).toBe(
      "/dev/video0 delivers at most 1920x1080 up to 5 fps, 1280x720 up to 10 fps, 640x480 up to 30 fps (the device's caps; smaller sizes are scaled down from these)",
    );
    // Nothing known (an absent device): the source bounds nothing.
    expect(sourceRefuses({ describe: '/dev/video9', origin: 'absent', modes: [] }, 7680, 7680, 240)).toBeUndefined();
  });

  it('videotestsrc is bounded like a board camera: UHD at 30, 1080p at 60, 720p at 120', () => {
    const t = testSourceCapabilities('smpte');
    expect(describeModes(t.modes)).toBe('3840x2160 up to 30 fps, 1920x1080 up to 60 fps, 1280x720 up to 120 fps');
    expect(sourceRefuses(t, 1920, 1080, 60)).toBeUndefined();
    expect(sourceRefuses(t, 7680, 7680, 60)).toMatch(/^test pattern smpte \(videotestsrc\) delivers at most 3840x2160 up to 30 fps/);
    expect(sourceRefuses(t, 320, 240, 240)).toMatch(/1280x720 up to 120 fps/);
  });
});
