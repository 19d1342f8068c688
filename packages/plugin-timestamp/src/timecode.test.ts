import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { codeGeometry, crc16, decodeTimecode, renderCode } from './timecode.js';
import { formatTimestamp, FORMAT_PATTERN } from './format.js';

/** A grey frame with the code drawn where the overlay puts it. */
function frameWithCode(ms: number, width: number, height: number): Uint8Array {
  const g = codeGeometry(width, height);
  const rgb = renderCode(ms, g.cell);
  const gray = new Uint8Array(width * height).fill(100);
  for (let y = 0; y < g.size; y++) for (let x = 0; x < g.size; x++) gray[(g.y + y) * width + g.x + x] = rgb[(y * g.size + x) * 3]!;
  return gray;
}

describe('time code', () => {
  it('round-trips capture times at several frame sizes', () => {
    for (const [w, h] of [[320, 240], [640, 480], [1280, 720], [1920, 1080]] as const) {
      for (const ms of [0, 1, 1_795_575_113_843, 2 ** 47 + 12345]) {
        expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data: frameWithCode(ms, w, h) })).toBe(ms);
      }
    }
  });

  it('rejects a damaged code (one flipped cell) and a frame without a code', () => {
    const w = 320;
    const h = 240;
    const data = frameWithCode(1_795_575_113_843, w, h);
    const g = codeGeometry(w, h);
    const cx = g.x + 3 * g.cell + g.cell / 2;
    const cy = g.y + 2 * g.cell + g.cell / 2;
    const flipped = data[cy * w + cx]! < 128 ? 255 : 0;
    for (let y = cy - g.cell / 2; y < cy + g.cell / 2; y++) for (let x = cx - g.cell / 2; x < cx + g.cell / 2; x++) data[y * w + x] = flipped;
    expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data })).toBeUndefined();
    expect(decodeTimecode({ width: w, height: h, format: 'GRAY', data: new Uint8Array(w * h).fill(128) })).toBeUndefined();
  });

  it('survives a real H.264 encode and decode at a low bitrate', () => {
    const w = 320;
    const h = 240;
    const frames = [1_795_575_000_000, 1_795_575_000_067, 1_795_575_000_133];
    // Noise around the code makes the encoder work for its bits.
    const raw = Buffer.concat(
      frames.map((ms) => {
        const f = frameWithCode(ms, w, h);
        const g = codeGeometry(w, h);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (x < g.x - 4 || y > g.y + g.size + 4) f[y * w + x] = (x * 7 + y * 13 + ms) & 0xff;
        return Buffer.concat([Buffer.from(f), Buffer.alloc((w * h) / 2, 128)]);
      }),
    );
    const h264 = execFileSync('ffmpeg', ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${w}x${h}`, '-r', '15', '-i', 'pipe:0', '-c:v', 'libx264', '-b:v', '300k', '-preset', 'ultrafast', '-f', 'h264', 'pipe:1'], { input: raw });
    const decoded = execFileSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { input: h264 });
    const got = frames.map((_, i) => decodeTimecode({ width: w, height: h, format: 'GRAY', data: decoded.subarray(i * w * h, (i + 1) * w * h) }));
    expect(got).toEqual(frames);
  });

  it('has a CRC-16/CCITT-FALSE', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x29b1);
  });
});

describe('timestamp format', () => {
  it('formats date and time with milliseconds', () => {
    const ms = new Date(2026, 10, 25, 3, 4, 5, 67).getTime();
    expect(formatTimestamp(ms, 'YYYY-MM-DD HH:mm:ss.SSS')).toBe('2026-11-25 03:04:05.067');
    expect(formatTimestamp(ms, 'DD/MM/YYYY HH:mm')).toBe('25/11/2026 03:04');
  });
  it('accepts only tokens and separators', () => {
    expect(FORMAT_PATTERN.test('YYYY-MM-DD HH:mm:ss.SSS')).toBe(true);
    expect(FORMAT_PATTERN.test('HH:mm" ! fakesink')).toBe(false);
  });
});
