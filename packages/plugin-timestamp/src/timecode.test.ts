import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CODE_ELEMENT, CODE_FORMAT, codeGeometry, codeLaunch, decodeTimecode, readTimecode } from './timecode.js';
import { endsWithMilliseconds, formatTimestamp, formattedLength, FORMAT_PATTERN, glibFormat, parseTimestamp } from './format.js';
import { CORNERS, textLayout } from './layout.js';
import { ELEMENT, overlayFragment, type OverlaySettings } from './plugin.js';
import { decodeH264, gstLaunch, ocrTimestamp } from './test-utils.js';

/** Pipeline base time of these tests: µs since the epoch (what a GDateTime holds). */
const BASE_US = 1_795_575_113_843_123;
/** Capture time of frame `i` of a non-live videotestsrc at `fps`: base + PTS (i/fps s). */
const expectedMs = (i: number, fps: number) => (BASE_US + (i * 1e6) / fps) / 1000;

const DEFAULT_OVERLAY: OverlaySettings = { enabled: true, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner: 'top-left', size: 0, timecode: true };

/**
 * The plugin's overlays with the start value gst-launch cannot set at start: the base time as an
 * ISO 8601 date (UTC) for both overlays' `datetime-epoch`.
 */
function overlays(width: number, height: number, settings: OverlaySettings = DEFAULT_OVERLAY): string {
  const f = overlayFragment(width, height, settings);
  const epoch = new Date(Math.floor(BASE_US / 1000)).toISOString().replace(/\.\d+Z$/, `.${String(BASE_US % 1_000_000).padStart(6, '0')}Z`);
  return f.launch.replaceAll('show-times-as-dates=true', `show-times-as-dates=true datetime-epoch=${epoch}`);
}

describe('time code', () => {
  it('is the capture time in µs, read from grey, I420 and RGB frames', async () => {
    const [w, h, fps] = [320, 240, 30];
    const raw = await gstLaunch(
      `videotestsrc num-buffers=3 ! video/x-raw,width=${w},height=${h},framerate=${fps}/1,format=I420 ! ${overlays(w, h)} ! fdsink fd=1`,
    );
    const size = (w * h * 3) / 2;
    expect(raw.length).toBe(3 * size);
    for (let i = 0; i < 3; i++) {
      const i420 = raw.subarray(i * size, (i + 1) * size);
      const tc = readTimecode({ width: w, height: h, format: 'I420', data: i420 })!;
      // GLib adds the running time to the epoch as µs (truncated): at most 1 µs below the exact sum.
      expect(Math.abs(tc.captureMs - expectedMs(i, fps))).toBeLessThan(0.0015);
      expect(tc.us).toBe(Math.round(tc.captureMs * 1000));
      const rgb = new Uint8Array(w * h * 3);
      for (let p = 0; p < w * h; p++) rgb.fill(i420[p]!, p * 3, p * 3 + 3);
      expect(decodeTimecode({ width: w, height: h, format: 'RGB', data: rgb })).toBe(tc.captureMs);
      expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data: i420.subarray(0, w * h) })).toBe(tc.captureMs);
    }
  });

  it('finds no code in a frame without one, and refuses a damaged one rather than misread it', async () => {
    expect(decodeTimecode({ width: 320, height: 240, format: 'GRAY', data: new Uint8Array(320 * 240).fill(128) })).toBeUndefined();
    expect(decodeTimecode({ width: 16, height: 16, format: 'GRAY', data: new Uint8Array(256) })).toBeUndefined();
    const [w, h] = [640, 360];
    const raw = await gstLaunch(`videotestsrc num-buffers=1 ! video/x-raw,width=${w},height=${h},framerate=30/1,format=I420 ! ${overlays(w, h)} ! fdsink fd=1`);
    const luma = Uint8Array.from(raw.subarray(0, w * h));
    expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data: luma })).toBeCloseTo(expectedMs(0, 30), 2);
    // Copy the rightmost digits of the first time line over those of the second (lines 2 and 3 of
    // five): each line still holds digits, but the two copies no longer agree.
    const g = codeGeometry(w, h);
    const pitch = 21; // Monospace Bold 17px here: 1.24 em
    const x0 = w - g.xpad - Math.round(6 * 0.6 * g.fontPx);
    const y2 = g.ypad + 2 * pitch;
    for (let y = 0; y < pitch; y++) luma.copyWithin((y2 + pitch + y) * w + x0, (y2 + y) * w + x0, (y2 + y) * w + w - g.xpad);
    expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data: luma })).toBeUndefined();
  });

  it('draws the bars, the digits and the two copies of the time with one timeoverlay', () => {
    expect(CODE_FORMAT).toBe('████████████████\n0123456789\n%s%f\n%f%s\n████████████████');
    expect(codeLaunch(1920, 1080)).toBe(
      `timeoverlay name=camd_tc silent=false show-times-as-dates=true time-mode=running-time datetime-format="${CODE_FORMAT}" ` +
        'auto-resize=false wrap-mode=none halignment=right valignment=top line-alignment=right xpad=9 ypad=9 font-desc="Monospace Bold 48px" ' +
        'shaded-background=true shading-value=255 draw-shadow=false draw-outline=false',
    );
  });

  // The code on every frame of an H.264 stream at the bitrates camd streams use, over a moving picture.
  for (const [w, h, kbps] of [
    [320, 240, 500],
    [1280, 720, 4000],
    [1920, 1080, 8000],
  ] as const) {
    it(`survives H.264 at ${w}x${h}, ${kbps} kbit/s, and the text is read back by OCR`, async () => {
      const fps = 15;
      const n = 8;
      const h264 = await gstLaunch(
        `videotestsrc num-buffers=${n} pattern=smpte horizontal-speed=3 ! video/x-raw,width=${w},height=${h},framerate=${fps}/1,format=I420 ! ${overlays(w, h)} ! ` +
          `x264enc tune=zerolatency speed-preset=ultrafast bitrate=${kbps} ! video/x-h264,stream-format=byte-stream ! fdsink fd=1`,
      );
      const frames = await decodeH264(h264, w, h);
      expect(frames.length).toBe(n);
      frames.forEach((f, i) => expect(Math.abs(decodeTimecode({ ...f, format: 'GRAY' })! - expectedMs(i, fps)), `frame ${i}`).toBeLessThan(0.0015));
      // The overlay prints the epoch's zone (UTC here); the parser reads local time.
      const layout = textLayout({ width: w, height: h, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner: 'top-left', size: 0, timecode: true });
      const { text, ms } = await ocrTimestamp(frames[n - 1]!, layout, 'YYYY-MM-DD HH:mm:ss.SSS');
      const shown = ms! - new Date().getTimezoneOffset() * 60_000;
      // Milliseconds, truncated.
      expect(text).toMatch(/\.\d{3}$/);
      expect(shown, text).toBe(Math.floor(expectedMs(n - 1, fps)));
    });
  }
});

describe('text layout', () => {
  const sizes = [
    [320, 240],
    [640, 360],
    [640, 480],
    [1280, 720],
    [1920, 1080],
    [2560, 1440],
    [3840, 2160],
    [480, 640],
  ] as const;
  const formats = ['YYYY-MM-DD HH:mm:ss.SSS', 'HH:mm:ss.SSS', 'DD/MM/YYYY HH:mm:ss.SSSSSS', 'YYYY-MM-DDTHH:mm:ss.SSSSSS SSS', 'DD.MM.YYYY HH:mm'];
  it('fits the whole text in the picture and never under the time code, for any size setting', () => {
    for (const [w, h] of sizes) {
      const code = codeGeometry(w, h);
      for (const format of formats) {
        for (const corner of CORNERS) {
          for (const size of [0, 8, 40, 200]) {
            for (const timecode of [true, false]) {
              const l = textLayout({ width: w, height: h, format, corner, size, timecode });
              const where = `${w}x${h} ${format} ${corner} ${size} ${timecode}`;
              const textW = l.textWidth;
              expect(textW, where).toBeGreaterThanOrEqual(formattedLength(format) * Math.round((1233 / 2048) * l.fontPx));
              const textH = 1.25 * l.fontPx;
              const [x0, y0] = [l.x, l.y];
              // timeoverlay places its image at xpad + deltax, ypad + deltay (plus the ink's own offset).
              expect([l.xpad + l.deltax, l.ypad + l.deltay], where).toEqual([x0, y0]);
              expect(x0, where).toBeGreaterThanOrEqual(0);
              expect(x0 + textW, where).toBeLessThanOrEqual(w);
              expect(y0 + textH, where).toBeLessThanOrEqual(h);
              const overlaps = x0 < code.x + code.width && x0 + textW > code.x && y0 < code.y + code.height && y0 + textH > code.y;
              if (timecode) expect(overlaps, where).toBe(false);
              if (size === 0 && format.length <= 23) expect(l.fontPx, where).toBeGreaterThanOrEqual(Math.min(12, Math.round(h / 20)));
            }
          }
        }
      }
    }
  });

  it('as rendered, from 320x240 to 3840x2160: the text whole and inside the picture, never on the code', async () => {
    // timeoverlay reports where it drew (text-x/-y/-width/-height); python3-gi runs the pipelines.
    const cases: Array<{ w: number; h: number; corner: string; size: number; launch: string }> = [];
    for (const [w, h] of [
      [320, 240],
      [640, 360],
      [1280, 720],
      [1920, 1080],
      [3840, 2160],
    ] as const) {
      for (const corner of CORNERS) {
        for (const size of [0, 200]) {
          const f = overlayFragment(w, h, { enabled: true, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner, size, timecode: true });
          cases.push({ w, h, corner, size, launch: `videotestsrc num-buffers=1 ! video/x-raw,width=${w},height=${h},format=I420 ! ${f.launch} ! fakesink` });
        }
      }
    }
    const script = `
import gi, json, sys
gi.require_version('Gst', '1.0')
from gi.repository import Gst
Gst.init(None)
out = []
for launch in json.load(sys.stdin):
    p = Gst.parse_launch(launch)
    p.set_state(Gst.State.PLAYING)
    p.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    rect = lambda n: [p.get_by_name(n).get_property(k) for k in ('text-x', 'text-y', 'text-width', 'text-height')]
    out.append({'text': rect('${ELEMENT.text}'), 'code': rect('${CODE_ELEMENT}')})
    p.set_state(Gst.State.NULL)
print(json.dumps(out))
`;
    const child = promisify(execFile)('/usr/bin/python3', ['-c', script], { maxBuffer: 1 << 20 });
    child.child.stdin!.end(JSON.stringify(cases.map((c) => c.launch)));
    const rects = JSON.parse((await child).stdout) as Array<{ text: number[]; code: number[] }>;
    cases.forEach((c, i) => {
      const [tx, ty, tw, th] = rects[i]!.text as [number, number, number, number];
      const [cx, cy, cw, ch] = rects[i]!.code as [number, number, number, number];
      const where = `${c.w}x${c.h} ${c.corner} size ${c.size}: text ${tx},${ty} ${tw}x${th}, code ${cx},${cy} ${cw}x${ch}`;
      expect(tx >= 0 && ty >= 0 && tx + tw <= c.w && ty + th <= c.h, where).toBe(true);
      expect(tx + tw <= cx || cx + cw <= tx || ty + th <= cy || cy + ch <= ty, where).toBe(true);
      // The code lies within the box codeGeometry gives (readers and the layout rely on it).
      const g = codeGeometry(c.w, c.h);
      expect(cx >= g.x && cy >= g.y && cx + cw <= g.x + g.width && cy + ch <= g.y + g.height, where).toBe(true);
      // Automatic size: 1/20 of the height (at least 12 px) as the font size; digits are 3/4 of it.
      if (c.size === 0) expect(th, where).toBeGreaterThanOrEqual(0.75 * Math.min(12, c.h / 20));
    });
  }, 30_000);

  it('as rendered, SSS is cut right after the milliseconds: the same pixels as SSSSSS up to the cut, nothing of the microseconds after it', async () => {
    const cases = [
      [320, 240, 0],
      [640, 480, 0],
      [1280, 720, 0],
      [1920, 1080, 0],
      [3840, 2160, 0],
      [1920, 1080, 6],
      [1920, 1080, 9],
      [1920, 1080, 15],
      [1920, 1080, 200],
    ] as const;
    for (const [w, h, size] of cases) {
      const render = async (format: string) => {
        const s = { enabled: true, format, corner: 'top-left' as const, size, timecode: false };
        const gray = await gstLaunch(
          `videotestsrc num-buffers=1 pattern=black ! video/x-raw,width=${w},height=${h},format=I420 ! ${overlays(w, h, s)} ! videoconvert ! video/x-raw,format=GRAY8 ! fdsink fd=1`,
        );
        return { gray, layout: textLayout({ width: w, height: h, ...s }) };
      };
      const ms = await render('HH:mm:ss.SSS');
      const us = await render('HH:mm:ss.SSSSSS');
      const where = `${w}x${h} size ${size}: font ${ms.layout.fontPx} px`;
      expect(us.layout.fontPx, where).toBe(ms.layout.fontPx);
      // Where the first microsecond's character cell starts (12 characters, monospace). The last
      // millisecond may reach a pixel into it; a microsecond digit drawn would show in its middle.
      const advance = Math.round((1233 / 2048) * ms.layout.fontPx);
      const cut = ms.layout.x + 12 * advance;
      let differ = 0;
      let after = 0;
      let microseconds = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          // Text pixels (white, light edges); the shaded boxes differ in size.
          const [a, b] = [ms.gray[y * w + x]!, us.gray[y * w + x]!];
          if (x < cut && (a > 60 || b > 60) && a !== b) differ++;
          if (x >= cut + advance / 2 && a > 60) after++;
          if (x >= cut + advance / 2 && b > 60) microseconds++;
        }
      }
      expect(differ, `${where}: text pixels before the cut that differ (a second line, a cut digit)`).toBe(0);
      expect(after, `${where}: text pixels after the cut`).toBe(0);
      expect(microseconds, `${where}: the microseconds are there without the cut`).toBeGreaterThan(0);
    }
  }, 60_000);

  it('follows the picture height: 1/20 of it unless the text would not fit', () => {
    const px = (w: number, h: number) =>
      textLayout({ width: w, height: h, format: 'YYYY-MM-DD HH:mm:ss.SSS', corner: 'top-left', size: 0, timecode: true }).fontPx;
    expect([px(320, 240), px(1280, 720), px(1920, 1080), px(3840, 2160)]).toEqual([12, 36, 54, 108]);
  });

  it('places the code top-right, its digits height/21 px (11 to 48 px)', () => {
    expect(codeGeometry(1920, 1080)).toMatchObject({ fontPx: 48, xpad: 9, ypad: 9, y: 0 });
    expect(codeGeometry(320, 240)).toMatchObject({ fontPx: 11, xpad: 2, ypad: 2 });
    expect(codeGeometry(3840, 2160)).toMatchObject({ fontPx: 48 });
  });
});

describe('timestamp format', () => {
  it('maps to a GLib format: SSS and SSSSSS are %f (the overlay cuts SSS after three digits)', () => {
    expect(glibFormat('YYYY-MM-DD HH:mm:ss.SSS')).toBe('%Y-%m-%d %H:%M:%S.%f');
    expect(glibFormat('DD/MM/YYYY HH:mm')).toBe('%d/%m/%Y %H:%M');
    expect(glibFormat('YYYY-MM-DDTHH:mm:ss_SSSSSS')).toBe('%Y-%m-%dT%H:%M:%S_%f');
    expect(() => glibFormat('%s')).toThrow(/not a timestamp format/);
    expect([formattedLength('HH:mm:ss.SSS'), formattedLength('HH:mm:ss.SSSSSS')]).toEqual([12, 15]);
    expect(['ss.SSS', 'ss.SSSSSS', 'SSS', 'ss.SSSSSSSSS', 'HH:mm'].map(endsWithMilliseconds)).toEqual([true, false, true, true, false]);
  });
  it('formats date and time as the overlay does (SSS milliseconds, SSSSSS microseconds, truncated), and parses it back', () => {
    const ms = new Date(2026, 10, 25, 3, 4, 5, 67).getTime() + 0.891;
    expect(formatTimestamp(ms, 'YYYY-MM-DD HH:mm:ss.SSS')).toBe('2026-11-25 03:04:05.067');
    expect(formatTimestamp(ms, 'YYYY-MM-DD HH:mm:ss.SSSSSS')).toBe('2026-11-25 03:04:05.067891');
    expect(formatTimestamp(ms, 'DD/MM/YYYY HH:mm')).toBe('25/11/2026 03:04');
    expect(parseTimestamp('2026-11-25 03:04:05.067', 'YYYY-MM-DD HH:mm:ss.SSS')).toBe(Math.floor(ms));
    expect(parseTimestamp('2026-11-25 03:04:05.067891', 'YYYY-MM-DD HH:mm:ss.SSSSSS')).toBeCloseTo(ms, 6);
    expect(parseTimestamp('2026-11-25 03:04:05.067891', 'YYYY-MM-DD HH:mm:ss.SSS')).toBeUndefined();
    expect(parseTimestamp('2026-11-25 03:04:05.0678', 'YYYY-MM-DD HH:mm:ss.SSSSSS')).toBeUndefined();
  });
  it('accepts only tokens and separators, and SSS only at the end', () => {
    for (const f of ['YYYY-MM-DD HH:mm:ss.SSS', 'HH:mm:ss.SSSSSS', 'SSS', 'ss.SSSSSS SSS', 'DD/MM/YYYY']) expect(FORMAT_PATTERN.test(f), f).toBe(true);
    for (const f of ['HH:mm" ! fakesink', 'SSS HH:mm', 'ss.SSSS', 'ss.SSS ', '']) expect(FORMAT_PATTERN.test(f), f).toBe(false);
  });
});
