/**
 * The machine-readable time code: a QR code drawn by GStreamer's `debugqroverlay` (plugins-bad) on
 * every frame, in the top-right corner. Its text is JSON, e.g.
 * `{"TIMESTAMP":2312320,"BUFFERCOUNT":1,"FRAMERATE":"30/1","NAME":"CAMD_TC","B":"1795575113843123456"}`:
 * `TIMESTAMP` is the frame's PTS in ns (the running time: our sources start their segment at 0) and
 * `B` the pipeline's base time in ns since the Unix epoch (realtime clock), set once as the pipeline
 * starts. The frame's capture wall-clock time is B + TIMESTAMP. (The element upper-cases letters when
 * it encodes, so keys and the element name read back upper-case.)
 */
import jsQRModule from 'jsqr';

type JsQR = (data: Uint8ClampedArray, width: number, height: number, opts?: { inversionAttempts?: 'dontInvert' | 'onlyInvert' | 'attemptBoth' | 'invertFirst' }) => { data: string } | null;
// CommonJS package: the function is module.exports (and .default).
const jsQR: JsQR = (jsQRModule as unknown as { default?: JsQR }).default ?? (jsQRModule as unknown as JsQR);

/** Name of the `debugqroverlay` element in the pipeline (short: it is part of every code's text). */
export const CODE_ELEMENT = 'camd_tc';
/** JSON key of the base time (ns since the epoch) in the code. */
export const BASE_KEY = 'b';
/**
 * Error correction M (~15 %). With our content (TIMESTAMP up to 17 digits, i.e. ~3 years of running
 * time, BUFFERCOUNT up to 2^32, any frame rate) the code is always version 6: 41×41 modules.
 */
export const CODE_ERROR_CORRECTION = 1;
export const CODE_MODULES = 41;
/** debugqroverlay draws a white border of 4 modules around the code (5 left, 3 right). */
const BORDER_MODULES = 8;
/** The scan region allows one version more than expected (45 modules), should the text ever grow. */
const SCAN_MODULES = 45 + BORDER_MODULES;

export interface CodeGeometry {
  /** Pixels per QR module (`pixel-size`). */
  pixel: number;
  /** Modules per side of the code (border excluded). */
  modules: number;
  /** Top-left of the drawn square (white border included), in frame pixels. */
  x: number;
  y: number;
  /** Side of the drawn square, white border included. */
  size: number;
}

/**
 * Where the code sits in a frame of this size (the overlay and the decoder compute the same). Modules
 * are height/180 px (at least 2): a square of about 27 % of the picture height, flush with the top-right
 * corner, which stays readable after H.264 at ordinary bitrates (320x240 at 500 kbit/s, 720p at
 * 4 Mbit/s, 1080p at 8 Mbit/s).
 */
export function codeGeometry(width: number, height: number): CodeGeometry {
  const pixel = Math.max(2, Math.round(height / 180));
  const size = (CODE_MODULES + BORDER_MODULES) * pixel;
  // debugqroverlay: x = (width - size) * x% rounded down to even, y = (height - size) * y% down to 4.
  return { pixel, modules: CODE_MODULES, size, x: Math.max(0, width - size) & ~1, y: 0 };
}

/** gst-launch text of the overlay for a frame of this size; `b` is set as the pipeline starts. */
export function codeLaunch(width: number, height: number): string {
  const g = codeGeometry(width, height);
  // interval 2, span 2: the extra data goes into every code (frame 1, 3, 5… start a span of two).
  return (
    `debugqroverlay name=${CODE_ELEMENT} pixel-size=${g.pixel} x=100 y=0 qrcode-error-correction=${CODE_ERROR_CORRECTION} ` +
    `extra-data-name=${BASE_KEY} extra-data-interval-buffers=2 extra-data-span-buffers=2`
  );
}

export interface Timecode {
  /** Buffer PTS (ns): the frame's running time. */
  ptsNs: bigint;
  /** Pipeline base time (ns since the Unix epoch). */
  baseTimeNs: bigint;
  /** Capture wall-clock time, ms since the epoch (fractional), computed as camd's media plane does. */
  captureMs: number;
}

/** Reads the text of a time code, or undefined when it is not one of ours. */
export function parseTimecode(text: string): Timecode | undefined {
  const pts = /"TIMESTAMP"\s*:\s*(\d+)/i.exec(text);
  const base = new RegExp(`"${BASE_KEY}"\\s*:\\s*"(\\d+)"`, 'i').exec(text);
  if (!pts || !base) return undefined;
  const ptsNs = BigInt(pts[1]!);
  const baseTimeNs = BigInt(base[1]!);
  return { ptsNs, baseTimeNs, captureMs: Number(ptsNs) / 1e6 + Number(baseTimeNs / 1000n) / 1000 };
}

export interface DecodableFrame {
  width: number;
  height: number;
  /** GRAY: one luma byte per pixel; I420: luma plane first; RGB: 3 bytes per pixel. */
  format: 'GRAY' | 'I420' | 'RGB';
  data: Uint8Array;
}

/**
 * The time code of a decoded frame, or undefined when there is none (or it is unreadable). Only the
 * top-right square where the code is drawn is scanned, reduced to about 2 px per module.
 */
export function readTimecode(frame: DecodableFrame): Timecode | undefined {
  const { width, height, data } = frame;
  const g = codeGeometry(width, height);
  const k = Math.max(1, Math.floor(g.pixel / 2));
  const w = Math.floor(Math.min(width, SCAN_MODULES * g.pixel) / k);
  const h = Math.floor(Math.min(height, SCAN_MODULES * g.pixel) / k);
  if (w < 21 || h < 21) return undefined;
  const x0 = width - w * k;
  const rgba = new Uint8ClampedArray(w * h * 4);
  const rgb = frame.format === 'RGB';
  const area = k * k;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let yy = 0; yy < k; yy++) {
        let o = (y * k + yy) * width + x0 + x * k;
        for (let xx = 0; xx < k; xx++, o++) {
          sum += rgb ? (data[o * 3]! * 299 + data[o * 3 + 1]! * 587 + data[o * 3 + 2]! * 114) / 1000 : data[o]!;
        }
      }
      const v = sum / area;
      const p = (y * w + x) * 4;
      rgba[p] = rgba[p + 1] = rgba[p + 2] = v;
      rgba[p + 3] = 255;
    }
  }
  const code = jsQR(rgba, w, h, { inversionAttempts: 'dontInvert' });
  return code ? parseTimecode(code.data) : undefined;
}

/** The capture time (ms since the epoch) embedded in a decoded frame, or undefined when there is none. */
export function decodeTimecode(frame: DecodableFrame): number | undefined {
  return readTimecode(frame)?.captureMs;
}
