/**
 * The machine-readable time code: a second `timeoverlay`, in the top-right corner, draws on every frame
 *
 *     ████████████████     a bar of 16 cells: where the cells are, and how wide
 *           0123456789     the ten digits, in the same font at the same size: the templates
 *     1795575113843123     capture time in µs since the Unix epoch (`%s%f`: seconds, microseconds)
 *     8431231795575113     the same time rotated (`%f%s`): both copies must read the same
 *     ████████████████     a second bar: the line pitch
 *
 * in white on a black box, all from its `datetime-format` (the time is base time + running time,
 * exactly what the human-readable text shows). The reader finds the bars, cuts the cells and matches
 * each digit against the templates of the same frame (normalised cross-correlation), so it needs no
 * font of its own and survives the encoder's losses at ordinary bitrates; a damaged code reads as no
 * code (the copies disagree), not as a wrong time.
 *
 * Why not a QR code: `debugqroverlay` (plugins-bad 1.22, and upstream as of this writing) leaks the
 * ARGB picture of every code it draws (its pixel buffer is never unreffed): 38 KB per frame at 320x240,
 * 338 KB per frame at 1080p, 20 MB/s at 1080p60.
 */

/** Name of the time-code `timeoverlay` in the pipeline. */
export const CODE_ELEMENT = 'camd_tc';
const CELLS = 16;
const LINES = 5;
const BAR = '\u2588'.repeat(CELLS);
/** The overlay's `datetime-format` (GLib; `text` stays empty, so nothing precedes it). */
export const CODE_FORMAT = `${BAR}\n0123456789\n%s%f\n%f%s\n${BAR}`;
/**
 * Monospace advance and line pitch in em (DejaVu Sans Mono: 0.602 and 1.164). Hinting rounds both to
 * whole pixels (a 10 px font has a 13 px pitch), so estimates allow for that; the reader measures them.
 */
export const ADVANCE_EM = 0.602;
const LINE_EM = 1.164;
/** Estimated width of `chars` monospace characters at `fontPx` (hinted advances are whole pixels). */
export const textWidth = (chars: number, fontPx: number) => Math.ceil(chars * Math.max(Math.round(ADVANCE_EM * fontPx), ADVANCE_EM * fontPx)) + 1;
/** Luma above which a pixel is part of the code's white (the box behind it is black). */
const WHITE = 150;

export interface CodeGeometry {
  /** Font size of the code in px. */
  fontPx: number;
  /** timeoverlay paddings from the right and top edges. */
  xpad: number;
  ypad: number;
  /** Box that holds the drawn code (shaded margin included), in frame pixels (estimated from the font's metrics). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Side of a square at (x, y) that holds the box. */
  size: number;
}

/** Where the code sits in a frame of this size (the overlay and the reader compute the same). */
export function codeGeometry(width: number, height: number): CodeGeometry {
  const fontPx = Math.min(48, Math.max(11, Math.round(Math.min(height / 21, width / 28))));
  const pad = Math.max(2, Math.round(height / 120));
  // timeoverlay reports the code a cell wider than its 16 cells.
  const w = textWidth(CELLS + 1, fontPx) + 2 * pad;
  const h = LINES * (Math.ceil(LINE_EM * fontPx) + 2) + 2 * pad;
  const x = Math.max(0, width - w - pad);
  return { fontPx, xpad: pad, ypad: pad, x, y: 0, width: width - x, height: Math.min(height, h + pad), size: Math.max(width - x, Math.min(height, h + pad)) };
}

/** gst-launch text of the code overlay for a frame of this size; its `datetime-epoch` is set as the pipeline starts. */
export function codeLaunch(width: number, height: number, silent = false): string {
  const g = codeGeometry(width, height);
  return (
    `timeoverlay name=${CODE_ELEMENT} silent=${silent} show-times-as-dates=true time-mode=running-time ` +
    `datetime-format="${CODE_FORMAT}" auto-resize=false wrap-mode=none halignment=right valignment=top line-alignment=right ` +
    `xpad=${g.xpad} ypad=${g.ypad} font-desc="Monospace Bold ${g.fontPx}px" shaded-background=true shading-value=255 draw-shadow=false draw-outline=false`
  );
}

export interface DecodableFrame {
  width: number;
  height: number;
  /** GRAY: one luma byte per pixel; I420: luma plane first; RGB: 3 bytes per pixel. */
  format: 'GRAY' | 'I420' | 'RGB';
  data: Uint8Array;
}

export interface Timecode {
  /** The code's digits: capture time in µs since the epoch. */
  us: number;
  /** Capture wall-clock time, ms since the epoch (µs resolution). */
  captureMs: number;
}

/** Samples per cell for matching (columns × rows). */
const GX = 12;
const GY = 20;

/**
 * The time code of a decoded frame, or undefined when there is none or it is unreadable (the two
 * copies disagree, or a digit matches no template well). Only the top-right corner is read.
 */
export function readTimecode(frame: DecodableFrame): Timecode | undefined {
  const { width, height } = frame;
  const g = codeGeometry(width, height);
  const luma = lumaOf(frame);
  const a0 = ADVANCE_EM * g.fontPx;

  // 1. The bars: rows whose longest white run, near the right padding, is about 16 cells long.
  const right = width - g.xpad;
  const xFrom = Math.max(0, Math.floor(right - (CELLS + 3) * a0));
  const xTo = Math.min(width - 1, Math.ceil(right + 2 * a0));
  const barRows = (yFrom: number, yTo: number) => {
    const rows: Array<{ y: number; l: number; r: number }> = [];
    for (let y = Math.max(0, yFrom); y <= Math.min(height - 1, yTo); y++) {
      let l = 0;
      let r = -1;
      for (let x = xFrom, start = -1; x <= xTo + 1; x++) {
        const white = x <= xTo && luma(x, y) >= WHITE;
        if (white && start < 0) start = x;
        if (!white && start >= 0) {
          if (x - start > r - l + 1) [l, r] = [start, x - 1];
          start = -1;
        }
      }
      const n = r - l + 1;
      if (n >= (CELLS - 3) * a0 && n <= (CELLS + 3) * a0) rows.push({ y, l, r });
      else if (rows.length > 0) break; // the bar's rows are consecutive
    }
    return rows;
  };
  const top = barRows(0, Math.ceil(g.ypad + 2 * g.fontPx));
  if (top.length < 2) return undefined;
  const med = (xs: number[]) => xs.sort((p, q) => p - q)[xs.length >> 1]!;
  const xL = med(top.map((r) => r.l));
  const xR = med(top.map((r) => r.r)) + 1;
  const a = (xR - xL) / CELLS;
  const yT = top[0]!.y;
  const barH = top.length;
  const bottom = barRows(Math.floor(yT + barH + 2.5 * 0.95 * g.fontPx), Math.ceil(yT + (LINES - 1) * 1.7 * g.fontPx));
  if (bottom.length < 2 || Math.abs(bottom.length - barH) > 2) return undefined;
  const pitch = (bottom[0]!.y - yT) / (LINES - 1);
  if (pitch < 0.9 * g.fontPx || pitch > 1.6 * g.fontPx) return undefined;

  // 2. Cells, counted from the right, sampled from a copy of the code's pixels and normalised; rows
  //    span a line but its top and bottom tenth (where a bar's edge may bleed in). The templates are
  //    line 1. A digit may sit a pixel off its cell (hinting, the encoder): a cell that matches no
  //    template clearly is tried shifted by up to a fifth of a cell sideways and a tenth up or down.
  const px0 = Math.max(0, Math.floor(xL - a));
  const py0 = Math.max(0, yT - 2);
  const patch = new Patch(luma, px0, py0, Math.min(width, Math.ceil(xR + a)) - px0, Math.min(height, Math.ceil(yT + LINES * pitch) + 2) - py0);
  const cell = (line: number, j: number, dx = 0, dy = 0) => patch.normalised(xR - (j + 1) * a + dx - px0, yT + (line + 0.1) * pitch + dy - py0, a, 0.8 * pitch);
  const templates = Array.from({ length: 10 }, (_, d) => cell(1, 9 - d));
  const scores = new Float64Array(10);
  const match = (c: Float64Array, keepMax: boolean) => {
    for (let d = 0; d < 10; d++) scores[d] = keepMax ? Math.max(scores[d]!, dot(c, templates[d]!)) : dot(c, templates[d]!);
    let best = 0;
    let second = -1;
    for (let d = 1; d < 10; d++) if (scores[d]! > scores[best]!) best = d;
    for (let d = 0; d < 10; d++) if (d !== best && scores[d]! > second) second = scores[d]!;
    return { digit: best, score: scores[best]!, margin: scores[best]! - second };
  };
  const step = Math.max(1, a / 10);
  const vstep = Math.max(1, pitch / 20);
  const readLine = (line: number): string | undefined => {
    let s = '';
    for (let j = CELLS - 1; j >= 0; j--) {
      let m = match(cell(line, j), false);
      if (m.score < 0.9 || m.margin < 0.1) {
        for (let i = -2; i <= 2; i++) for (let k = -1; k <= 1; k++) if (i || k) m = match(cell(line, j, i * step, k * vstep), true);
      }
      if (m.score < 0.6 || m.margin < 0.02) return undefined;
      s += m.digit;
    }
    return s;
  };
  const first = readLine(2);
  const rotated = first && readLine(3);
  if (!first || !rotated || rotated !== first.slice(10) + first.slice(0, 10)) return undefined;
  const us = Number(first);
  return { us, captureMs: us / 1000 };
}

/** The capture time (ms since the epoch) embedded in a decoded frame, or undefined when there is none. */
export function decodeTimecode(frame: DecodableFrame): number | undefined {
  return readTimecode(frame)?.captureMs;
}

/** Luma at (x, y), clamped to the frame. */
function lumaOf(frame: DecodableFrame): (x: number, y: number) => number {
  const { data, width, height } = frame;
  const cx = (x: number) => (x < 0 ? 0 : x >= width ? width - 1 : x);
  const cy = (y: number) => (y < 0 ? 0 : y >= height ? height - 1 : y);
  if (frame.format === 'RGB') {
    return (x, y) => {
      const o = (cy(y) * width + cx(x)) * 3;
      return (data[o]! * 299 + data[o + 1]! * 587 + data[o + 2]! * 114) / 1000;
    };
  }
  return (x, y) => data[cy(y) * width + cx(x)]!;
}

/** A copy of a rectangle of luma, and cells resampled from it. */
class Patch {
  private readonly px: Float32Array;
  constructor(
    luma: (x: number, y: number) => number,
    readonly x0: number,
    readonly y0: number,
    private readonly w: number,
    private readonly h: number,
  ) {
    this.px = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) this.px[y * w + x] = luma(x0 + x, y0 + y);
  }

  /** The cell at (x, y) (patch coordinates) of size w×h, resampled to GX×GY (bilinear), zero mean, unit length. */
  normalised(x: number, y: number, w: number, h: number): Float64Array {
    const v = new Float64Array(GX * GY);
    const { px, w: pw, h: ph } = this;
    let mean = 0;
    for (let j = 0; j < GY; j++) {
      const sy = Math.min(ph - 1.001, Math.max(0, y + ((j + 0.5) * h) / GY - 0.5));
      const iy = Math.floor(sy);
      const fy = sy - iy;
      for (let i = 0; i < GX; i++) {
        const sx = Math.min(pw - 1.001, Math.max(0, x + ((i + 0.5) * w) / GX - 0.5));
        const ix = Math.floor(sx);
        const fx = sx - ix;
        const o = iy * pw + ix;
        const p = (px[o]! * (1 - fx) + px[o + 1]! * fx) * (1 - fy) + (px[o + pw]! * (1 - fx) + px[o + pw + 1]! * fx) * fy;
        v[j * GX + i] = p;
        mean += p;
      }
    }
    mean /= v.length;
    let norm = 0;
    for (let k = 0; k < v.length; k++) {
      v[k]! -= mean;
      norm += v[k]! * v[k]!;
    }
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < v.length; k++) v[k]! /= norm;
    return v;
  }
}

function dot(p: Float64Array, q: Float64Array): number {
  let s = 0;
  for (let k = 0; k < p.length; k++) s += p[k]! * q[k]!;
  return s;
}
