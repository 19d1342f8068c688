/**
 * Test helpers: decoded pixels of a stream, and the timestamp text read back from them by a real OCR
 * client (`tesseract`, Debian package tesseract-ocr).
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { EncodedFrame } from '@camd/core';
import type { TextLayout } from './layout.js';
import { parseTimestamp } from './format.js';

const run = promisify(execFile);

export interface GrayFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes an H.264 Annex-B stream to grey frames (one per access unit, in order) with ffmpeg. */
export async function decodeH264(h264: Buffer, width: number, height: number, format: 'h264' | 'hevc' = 'h264'): Promise<GrayFrame[]> {
  const ff = spawn('ffmpeg', ['-v', 'error', '-f', format, '-i', 'pipe:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  ff.stdout.on('data', (d: Buffer) => out.push(d));
  ff.stderr.on('data', (d) => (err += d));
  ff.stdin.end(h264);
  const code = await new Promise<number | null>((r) => ff.on('close', r));
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${err}`);
  const all = Buffer.concat(out);
  const size = width * height;
  return Array.from({ length: Math.floor(all.length / size) }, (_, i) => ({ width, height, data: all.subarray(i * size, (i + 1) * size) }));
}

/** Frames of a stream from its next keyframe on, as published by the hub (with their capture times). */
export function collectFrames(
  hub: { subscribe(stream: string, opts: { name: string; internal?: boolean; onFrame: (f: EncodedFrame) => void }): { close(): void } },
  stream: string,
  count: number,
  timeoutMs = 15_000,
): Promise<EncodedFrame[]> {
  return new Promise((resolve, reject) => {
    const frames: EncodedFrame[] = [];
    const timer = setTimeout(() => {
      c.close();
      reject(new Error(`only ${frames.length} of ${count} frames within ${timeoutMs} ms`));
    }, timeoutMs);
    const c = hub.subscribe(stream, {
      name: 'timestamp test',
      internal: true,
      onFrame: (f) => {
        if (frames.length === 0 && !f.keyframe) return;
        frames.push(f);
        if (frames.length === count) {
          clearTimeout(timer);
          c.close();
          resolve(frames);
        }
      },
    });
  });
}

/** The box the timestamp text is drawn in (shaded background included), from its layout. */
export function textBox(layout: TextLayout, width: number, height: number): { x: number; y: number; w: number; h: number } {
  const x = Math.max(0, layout.x - layout.margin);
  const w = Math.min(width - x, layout.textWidth + 2 * layout.margin);
  const h = Math.ceil(layout.fontPx * 1.6) + 2 * layout.margin;
  const y = Math.max(0, Math.min(height - h, layout.y - layout.margin));
  return { x, y, w, h: Math.min(h, height - y) };
}

/**
 * Reads one line of text in a rectangle of a grey frame with tesseract. The crop is inverted (the
 * overlay draws light text on a shaded background) and scaled so that the font is 48 px.
 */
export async function ocrLine(frame: GrayFrame, box: { x: number; y: number; w: number; h: number }, fontPx: number): Promise<string> {
  const scale = 48 / fontPx;
  const w = Math.round(box.w * scale);
  const h = Math.round(box.h * scale);
  const pad = 16;
  const W = w + 2 * pad;
  const H = h + 2 * pad;
  const img = Buffer.alloc(W * H, 255);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Bilinear sample of the source, inverted.
      const sx = Math.min(box.w - 1.001, Math.max(0, (x + 0.5) / scale - 0.5));
      const sy = Math.min(box.h - 1.001, Math.max(0, (y + 0.5) / scale - 0.5));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (xx: number, yy: number) => frame.data[(box.y + yy) * frame.width + box.x + xx]!;
      const v = (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
      img[(y + pad) * W + x + pad] = 255 - Math.round(v);
    }
  }
  const pgm = Buffer.concat([Buffer.from(`P5\n${W} ${H}\n255\n`), img]);
  // TS_OCR_DEBUG=dir keeps what tesseract was given, for looking at a failure.
  if (process.env.TS_OCR_DEBUG) writeFileSync(`${process.env.TS_OCR_DEBUG}/ocr-${frame.width}-${Date.now()}.pgm`, pgm);
  const child = execFile('tesseract', ['stdin', 'stdout', '--psm', '7', '-c', 'tessedit_char_whitelist=0123456789-:./T_ '], { encoding: 'utf8' });
  child.stdin!.end(pgm);
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    let s = '';
    let e = '';
    child.stdout!.on('data', (d) => (s += d));
    child.stderr!.on('data', (d) => (e += d));
    child.on('close', (code) => (code === 0 ? resolve({ stdout: s }) : reject(new Error(`tesseract failed (${code}): ${e}`))));
  });
  return stdout.trim();
}

/** Runs gst-launch-1.0 and returns what it wrote to stdout (fdsink fd=1). */
export async function gstLaunch(launch: string, timeoutMs = 30_000): Promise<Buffer> {
  const { stdout } = await run('gst-launch-1.0', ['-q', ...splitLaunch(launch)], { encoding: 'buffer', maxBuffer: 1 << 30, timeout: timeoutMs });
  return stdout;
}

/**
 * gst-launch-1.0 argv: words, a double-quoted value kept whole with its quotes (gst-launch-1.0 joins
 * its arguments and parses them again: the quotes keep spaces and newlines inside a value).
 */
function splitLaunch(launch: string): string[] {
  return [...launch.matchAll(/(?:[^\s"]+|"[^"]*")+/g)].map((m) => m[0]);
}

/** The timestamp text of a frame read by OCR (trimmed to its first and last digit) and its time. */
export async function ocrTimestamp(frame: GrayFrame, layout: TextLayout, format: string): Promise<{ text: string; ms?: number }> {
  const raw = await ocrLine(frame, textBox(layout, frame.width, frame.height), layout.fontPx);
  // Tesseract sometimes sets a monospace separator apart ("37 .923827"): spaces next to the
  // punctuation of a timestamp are not part of it.
  const read = (/\d[\d\-:./T_ ]*\d/.exec(raw)?.[0] ?? raw).replace(/\s*([.:\-/])\s*/g, '$1');
  // The crop may catch a stray mark beside the text (OCR reads it as "1" or "|"): the timestamp is
  // what has the format's shape within what was read.
  const digits = { YYYY: 4, SSSSSS: 6, SSS: 3 } as Record<string, number>;
  const shape = format.replace(/YYYY|SSSSSS|SSS|MM|DD|HH|mm|ss|[.]/g, (t) => (t === '.' ? '\\.' : `\\d{${digits[t] ?? 2}}`));
  const text = new RegExp(shape).exec(read)?.[0] ?? read;
  return { text, ms: parseTimestamp(text, format) };
}
