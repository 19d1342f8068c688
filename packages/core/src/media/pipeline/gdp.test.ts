import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAG_DELTA_UNIT, GdpReader, crc16, parseCaps, parseSegment, type GdpPacket } from './gdp.js';

const run = promisify(execFile);
let dir: string;
/** Real gdppay output: 6 H.264 frames at 15 fps, a keyframe every 3 frames. */
let stream: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'camd-gdp-'));
  const file = join(dir, 'out.gdp');
  await run('gst-launch-1.0', [
    '-q',
    ...'videotestsrc num-buffers=6 ! video/x-raw,format=I420,width=64,height=48,framerate=15/1 ! x264enc key-int-max=3 bframes=0 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! gdppay ! filesink'.split(
      ' ',
    ),
    `location=${file}`,
  ]);
  stream = readFileSync(file);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Feeds the stream in chunks of the given sizes (cycled), as a pipe would deliver it. */
function parse(sizes: number[]): GdpPacket[] {
  const reader = new GdpReader();
  const out: GdpPacket[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(...reader.push(stream.subarray(at, at + n)));
    at += n;
  }
  return out;
}

describe('GdpReader on real gdppay output', () => {
  it('yields caps, events and buffers with PTS and keyframe flags, whatever the chunking', () => {
    const whole = parse([stream.length]);
    for (const sizes of [[1], [61, 62, 63], [7, 1000, 3]]) expect(parse(sizes)).toEqual(whole);

    const buffers = whole.filter((p): p is Extract<GdpPacket, { kind: 'buffer' }> => p.kind === 'buffer');
    expect(buffers).toHaveLength(6);
    expect(buffers.map((b) => (b.flags & FLAG_DELTA_UNIT) === 0)).toEqual([true, false, false, true, false, false]);
    // Every buffer is one access unit in Annex B.
    for (const b of buffers) expect(b.data.subarray(0, 4).toString('hex')).toMatch(/^0000000?1/);
    const pts = buffers.map((b) => b.pts!);
    for (let i = 1; i < pts.length; i++) expect(Number(pts[i]! - pts[i - 1]!)).toBeCloseTo(1e9 / 15, -1);

    const caps = whole.find((p): p is Extract<GdpPacket, { kind: 'caps' }> => p.kind === 'caps')!;
    expect(parseCaps(caps.caps)).toMatchObject({ media: 'video/x-h264', width: 64, height: 48 });

    // The segment turns PTS into running time: the first frame is at running time 0.
    const segment = whole.map((p) => (p.kind === 'event' ? parseSegment(p.structure) : undefined)).find(Boolean)!;
    expect(pts[0]! - segment.start + segment.base).toBe(0n);
  });

  it('refuses a stream that is not GDP, or whose framing was lost, with a clear error', () => {
    expect(() => new GdpReader().push(Buffer.alloc(100, 7))).toThrow('not a GDP stream (version byte 7)');
    const damaged = Buffer.from(stream);
    damaged[20] ^= 0xff; // inside the first header
    expect(() => new GdpReader().push(damaged)).toThrow('GDP header CRC mismatch');
  });

  it('computes the header CRC as gdppay does', () => {
    expect(crc16(stream.subarray(0, 58))).toBe(stream.readUInt16BE(58));
  });
});
