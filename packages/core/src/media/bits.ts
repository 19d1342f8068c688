/** Reads a byte buffer most significant bit first (VP9 and AV1 headers); reading past the end throws RangeError. */
export class BitReader {
  private pos = 0;

  constructor(private readonly data: Buffer) {}

  /** `n` bits (n ≤ 32) as an unsigned number. */
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.data[this.pos >> 3];
      if (byte === undefined) throw new RangeError('header ends early');
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }

  flag(): boolean {
    return this.bits(1) === 1;
  }

  /** AV1's uvlc(): leading zeros, then that many bits (spec §4.10.3). */
  uvlc(): number {
    let zeros = 0;
    while (!this.flag()) if (++zeros >= 32) return 2 ** 32 - 1;
    return zeros === 0 ? 0 : this.bits(zeros) + 2 ** zeros - 1;
  }
}

/** An unsigned LEB128 number (AV1 sizes, spec §4.10.5) at `offset`: its value and length in bytes; undefined when truncated or over 8 bytes. */
export function readLeb128(data: Buffer, offset: number): { value: number; length: number } | undefined {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const b = data[offset + i];
    if (b === undefined) return undefined;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, length: i + 1 };
  }
  return undefined;
}

/** `value` as unsigned LEB128. */
export function leb128(value: number): Buffer {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return Buffer.from(out);
}
