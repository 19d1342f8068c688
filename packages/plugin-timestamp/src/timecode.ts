/**
 * The machine-readable time code: the capture wall-clock time in ms (48 bits) and a CRC-16 of it
 * (16 bits), drawn as an 8×8 grid of black/white cells inside a white quiet zone of one cell, in the
 * top-right corner. Cells are large (height/40 px, at least 6 px) so H.264 at ordinary bitrates keeps
 * them readable; the CRC rejects a frame where compression flipped a cell.
 */

export const GRID = 8;
const BITS = GRID * GRID;

export interface CodeGeometry {
  /** Cell size in px. */
  cell: number;
  /** Top-left of the quiet zone (the drawn picture), in frame pixels. */
  x: number;
  y: number;
  /** Side of the drawn picture, quiet zone included. */
  size: number;
}

/** Where the code sits in a frame of this size (the decoder computes the same). */
export function codeGeometry(width: number, height: number): CodeGeometry {
  const cell = Math.max(6, Math.floor(height / 40) & ~1);
  const size = (GRID + 2) * cell;
  return { cell, size, x: width - size - cell, y: cell };
}

/** CRC-16/CCITT-FALSE. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The 64 bits of a time code, most significant first. */
export function codeBits(ms: number): number[] {
  const t = BigInt(Math.floor(ms)) & 0xffffffffffffn;
  const bytes = new Uint8Array(6);
  for (let i = 0; i < 6; i++) bytes[i] = Number((t >> BigInt(8 * (5 - i))) & 0xffn);
  const crc = crc16(bytes);
  const bits: number[] = [];
  for (const b of [...bytes, crc >> 8, crc & 0xff]) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
  return bits;
}

/** RGB pixels (row-major, 3 bytes each) of the code picture for `ms`, quiet zone included. */
export function renderCode(ms: number, cell: number): Uint8Array {
  const size = (GRID + 2) * cell;
  const px = new Uint8Array(size * size * 3).fill(255);
  const bits = codeBits(ms);
  for (let i = 0; i < BITS; i++) {
    if (bits[i] !== 1) continue; // 1 = black
    const cx = (1 + (i % GRID)) * cell;
    const cy = (1 + Math.floor(i / GRID)) * cell;
    for (let y = cy; y < cy + cell; y++) px.fill(0, (y * size + cx) * 3, (y * size + cx + cell) * 3);
  }
  return px;
}

export interface DecodableFrame {
  width: number;
  height: number;
  /** GRAY: one luma byte per pixel; I420: luma plane first; RGB: 3 bytes per pixel. */
  format: 'GRAY' | 'I420' | 'RGB';
  data: Uint8Array;
}

/** The capture time embedded in a decoded frame, or undefined when there is none (or it is damaged). */
export function decodeTimecode(frame: DecodableFrame): number | undefined {
  const g = codeGeometry(frame.width, frame.height);
  const luma = (x: number, y: number) => {
    if (frame.format === 'RGB') {
      const o = (y * frame.width + x) * 3;
      return (frame.data[o]! * 299 + frame.data[o + 1]! * 587 + frame.data[o + 2]! * 114) / 1000;
    }
    return frame.data[y * frame.width + x]!;
  };
  if (g.x < 0 || g.y + g.size > frame.height) return undefined;
  const bits: number[] = [];
  const margin = Math.max(1, Math.floor(g.cell / 4));
  for (let i = 0; i < BITS; i++) {
    const x0 = g.x + (1 + (i % GRID)) * g.cell;
    const y0 = g.y + (1 + Math.floor(i / GRID)) * g.cell;
    let sum = 0;
    let n = 0;
    for (let y = y0 + margin; y < y0 + g.cell - margin; y++) {
      for (let x = x0 + margin; x < x0 + g.cell - margin; x++) {
        sum += luma(x, y);
        n++;
      }
    }
    bits.push(sum / n < 128 ? 1 : 0);
  }
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 64; i++) bytes[i >> 3] = (bytes[i >> 3]! << 1) | bits[i]!;
  if (crc16(bytes.subarray(0, 6)) !== ((bytes[6]! << 8) | bytes[7]!)) return undefined;
  let t = 0n;
  for (let i = 0; i < 6; i++) t = (t << 8n) | BigInt(bytes[i]!);
  return Number(t);
}
