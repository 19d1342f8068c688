import { describe, expect, it } from 'vitest';
import { codeGeometry, codeLaunch, decodeTimecode, parseTimecode, readTimecode } from './timecode.js';
import { formatTimestamp, formattedLength, FORMAT_PATTERN, glibFormat, parseTimestamp } from './format.js';
import { CORNERS, textLayout } from './layout.js';
import { overlayFragment } from './plugin.js';
import { decodeH264, gstLaunch, ocrTimestamp } from './test-utils.js';

const BASE_NS = 1_795_575_113_843_123_456n;
/** Capture time of frame `i` of a non-live videotestsrc at `fps` (PTS = i/fps s, floored to ns). */
const expectedMs = (i: number, fps: number) => Number((BigInt(i) * 1_000_000_000n) / BigInt(fps)) / 1e6 + Number(BASE_NS / 1000n) / 1000;

/**
 * The plugin's overlays with fixed start values (gst-launch cannot set them at start): the epoch as an
 * ISO 8601 date (UTC), the base time as the code's extra data.
 */
function overlays(width: number, height: number): string {
  const f = overlayFragment(width, height, { enabled: true, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner: 'top-left', size: 0, timecode: true });
  const epoch = new Date(Number(BASE_NS / 1_000_000n)).toISOString().replace(/\.\d+Z$/, `.${String((BASE_NS / 1000n) % 1_000_000n).padStart(6, '0')}Z`);
  return f.launch.replace('show-times-as-dates=true', `show-times-as-dates=true datetime-epoch=${epoch}`).replace('extra-data-name=', `extra-data-array=${BASE_NS} extra-data-name=`);
}

describe('time code (debugqroverlay)', () => {
  it('encodes the PTS and the base time; decodeTimecode returns base + PTS in ms (grey, I420 and RGB frames)', async () => {
    const [w, h, fps] = [320, 240, 30];
    const raw = await gstLaunch(`videotestsrc num-buffers=3 ! video/x-raw,width=${w},height=${h},framerate=${fps}/1,format=I420 ! ${overlays(w, h)} ! fdsink fd=1`);
    const size = (w * h * 3) / 2;
    expect(raw.length).toBe(3 * size);
    for (let i = 0; i < 3; i++) {
      const i420 = raw.subarray(i * size, (i + 1) * size);
      const tc = readTimecode({ width: w, height: h, format: 'I420', data: i420 });
      expect(tc).toEqual({ ptsNs: (BigInt(i) * 1_000_000_000n) / BigInt(fps), baseTimeNs: BASE_NS, captureMs: expectedMs(i, fps) });
      const rgb = new Uint8Array(w * h * 3);
      for (let p = 0; p < w * h; p++) rgb.fill(i420[p]!, p * 3, p * 3 + 3);
      expect(decodeTimecode({ width: w, height: h, format: 'RGB', data: rgb })).toBe(expectedMs(i, fps));
      expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data: i420.subarray(0, w * h) })).toBe(expectedMs(i, fps));
    }
  });

  it('reads the JSON of the code, and nothing else', () => {
    const text = '{"TIMESTAMP":2312320,"BUFFERCOUNT":1,"FRAMERATE":"30/1","NAME":"CAMD_TC","B":"1795575113843123456"}';
    expect(parseTimecode(text)).toEqual({ ptsNs: 2312320n, baseTimeNs: BASE_NS, captureMs: 2.31232 + 1_795_575_113_843.123 });
    expect(parseTimecode('{"TIMESTAMP":2312320,"BUFFERCOUNT":1,"FRAMERATE":"30/1","NAME":"OTHER"}')).toBeUndefined();
    expect(parseTimecode('https://example.com')).toBeUndefined();
  });

  it('finds no code in a frame without one', () => {
    expect(decodeTimecode({ width: 320, height: 240, format: 'GRAY', data: new Uint8Array(320 * 240).fill(128) })).toBeUndefined();
    expect(decodeTimecode({ width: 16, height: 16, format: 'GRAY', data: new Uint8Array(256) })).toBeUndefined();
  });

  // The code on every frame of an H.264 stream at the bitrates camd streams use, over a moving picture.
  for (const [w, h, kbps] of [[320, 240, 500], [1280, 720, 4000], [1920, 1080, 8000]] as const) {
    it(`survives H.264 at ${w}x${h}, ${kbps} kbit/s, and the text is read back by OCR`, async () => {
      const fps = 15;
      const n = 8;
      const h264 = await gstLaunch(
        `videotestsrc num-buffers=${n} pattern=smpte horizontal-speed=3 ! video/x-raw,width=${w},height=${h},framerate=${fps}/1,format=I420 ! ${overlays(w, h)} ! ` +
          `x264enc tune=zerolatency speed-preset=ultrafast bitrate=${kbps} ! video/x-h264,stream-format=byte-stream ! fdsink fd=1`,
      );
      const frames = await decodeH264(h264, w, h);
      expect(frames.map((f) => decodeTimecode({ ...f, format: 'GRAY' }))).toEqual(frames.map((_, i) => expectedMs(i, fps)));
      // The overlay prints the epoch's zone (UTC here); the parser reads local time.
      const layout = textLayout({ width: w, height: h, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner: 'top-left', size: 0, timecode: true });
      const { text, ms } = await ocrTimestamp(frames[n - 1]!, layout, 'YYYY-MM-DD HH:mm:ss.SSS');
      const shown = ms! - new Date().getTimezoneOffset() * 60_000;
      expect(Math.abs(shown - expectedMs(n - 1, fps)), text).toBeLessThan(0.0025);
    });
  }
});

describe('text layout', () => {
  const sizes = [[320, 240], [640, 360], [640, 480], [1280, 720], [1920, 1080], [2560, 1440], [3840, 2160], [480, 640]] as const;
  const formats = ['YYYY-MM-DD HH:mm:ss.SSS', 'HH:mm:ss.SSS', 'DD/MM/YYYY HH:mm:ss.SSS', 'YYYY-MM-DDTHH:mm:ss.SSS SSS'];
  it('fits the whole text in the picture and never under the time code, for any size setting', () => {
    for (const [w, h] of sizes) {
      const code = codeGeometry(w, h);
      for (const format of formats) {
        for (const corner of CORNERS) {
          for (const size of [0, 8, 40, 200]) {
            for (const timecode of [true, false]) {
              const l = textLayout({ width: w, height: h, format, corner, size, timecode });
              const textW = formattedLength(format) * 0.602 * l.fontPx;
              const textH = 1.25 * l.fontPx;
              const x0 = l.halignment === 'left' ? l.xpad : w - l.xpad - textW;
              const y0 = l.valignment === 'top' ? l.ypad : h - l.ypad - textH;
              const where = `${w}x${h} ${format} ${corner} ${size} ${timecode}`;
              expect(x0, where).toBeGreaterThanOrEqual(0);
              expect(x0 + textW, where).toBeLessThanOrEqual(w);
              expect(y0 + textH, where).toBeLessThanOrEqual(h);
              const overlaps = x0 < code.x + code.size && x0 + textW > code.x && y0 < code.y + code.size && y0 + textH > code.y;
              if (timecode) expect(overlaps, where).toBe(false);
              if (size === 0 && format.length <= 23) expect(l.fontPx, where).toBeGreaterThanOrEqual(Math.min(12, Math.round(h / 20)));
            }
          }
        }
      }
    }
  });

  it('follows the picture height: 1/20 of it unless the text would not fit', () => {
    const px = (w: number, h: number) => textLayout({ width: w, height: h, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner: 'top-left', size: 0, timecode: true }).fontPx;
    expect([px(320, 240), px(1280, 720), px(1920, 1080), px(3840, 2160)]).toEqual([12, 36, 54, 108]);
  });

  it('places the code top-right with modules of height/180 px', () => {
    expect(codeGeometry(1920, 1080)).toEqual({ pixel: 6, modules: 41, size: 294, x: 1626, y: 0 });
    expect(codeGeometry(320, 240)).toMatchObject({ pixel: 2, size: 98, x: 222 });
    expect(codeLaunch(1920, 1080)).toBe('debugqroverlay name=camd_tc pixel-size=6 x=100 y=0 qrcode-error-correction=1 extra-data-name=b extra-data-interval-buffers=2 extra-data-span-buffers=2');
  });
});

describe('timestamp format', () => {
  it('maps to a GLib format; SSS is %f (milliseconds then microseconds)', () => {
    expect(glibFormat('YYYY-MM-DD HH:mm:ss.SSS')).toBe('%Y-%m-%d %H:%M:%S.%f');
    expect(glibFormat('DD/MM/YYYY HH:mm')).toBe('%d/%m/%Y %H:%M');
    expect(glibFormat('YYYY-MM-DDTHH:mm:ss_SSS')).toBe('%Y-%m-%dT%H:%M:%S_%f');
    expect(() => glibFormat('%s')).toThrow(/not a timestamp format/);
  });
  it('formats date and time as the overlay does, and parses it back', () => {
    const ms = new Date(2026, 10, 25, 3, 4, 5, 67).getTime() + 0.891;
    expect(formatTimestamp(ms, 'YYYY-MM-DD HH:mm:ss.SSS')).toBe('2026-11-25 03:04:05.067891');
    expect(formatTimestamp(ms, 'DD/MM/YYYY HH:mm')).toBe('25/11/2026 03:04');
    expect(parseTimestamp('2026-11-25 03:04:05.067891', 'YYYY-MM-DD HH:mm:ss.SSS')).toBeCloseTo(ms, 6);
    expect(parseTimestamp('2026-11-25 03:04:05.0678', 'YYYY-MM-DD HH:mm:ss.SSS')).toBeUndefined();
  });
  it('accepts only tokens and separators', () => {
    expect(FORMAT_PATTERN.test('YYYY-MM-DD HH:mm:ss.SSS')).toBe(true);
    expect(FORMAT_PATTERN.test('HH:mm" ! fakesink')).toBe(false);
  });
});
