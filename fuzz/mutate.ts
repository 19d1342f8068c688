/**
 * Byte mutations of near-valid messages. A parser rejects random bytes at its first check; messages
 * built from the protocol's grammar reach the deep branches, and a few mutations on top find what a
 * parser assumed about them (a length that matches, a separator that is there, a number that fits).
 */
import fc from 'fast-check';

/** Byte strings that break parsers' assumptions: separators, quotes, huge or negative numbers, NUL, non-ASCII, prototype keys. */
export const INTERESTING = [
  '\r\n',
  '\r\n\r\n',
  '\r',
  '\n',
  '\0',
  '"',
  '\\',
  ':',
  ';',
  ',',
  '=',
  ' ',
  '\t',
  '$',
  '-',
  '-1',
  '0',
  '65536',
  '4294967296',
  '999999999',
  '99999999999999999999',
  'NaN',
  'Infinity',
  '1e400',
  '%00',
  '%',
  '\xff\xfe',
  '\u00e9',
  '\u{1f600}',
  '__proto__',
  'constructor',
  'toString',
  '<',
  '>',
  '&',
  '&amp;',
  '<![CDATA[',
  ']]>',
  '<!--',
  '<?xml',
  '&#x0;',
  '*',
  '&x;',
  '\u2028',
].map((s) => Buffer.from(s, [...s].some((c) => c.charCodeAt(0) > 0xff) ? 'utf8' : 'latin1'));

type Op =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; byte: number }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'token'; at: number; token: number }
  | { k: 'delete'; at: number; len: number }
  | { k: 'repeat'; at: number; len: number; times: number }
  | { k: 'truncate'; at: number };

const at = fc.nat();
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at, bit: fc.nat(7) }),
  fc.record({ k: fc.constant('set' as const), at, byte: fc.nat(255) }),
  fc.record({ k: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ k: fc.constant('token' as const), at, token: fc.nat(INTERESTING.length - 1) }),
  fc.record({ k: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 16 }) }),
  // Repetition makes the long inputs: a header repeated to 64 KiB, thousands of quotes.
  fc.record({
    k: fc.constant('repeat' as const),
    at,
    len: fc.integer({ min: 1, max: 8 }),
    times: fc.oneof(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 100, max: 8192 })),
  }),
  fc.record({ k: fc.constant('truncate' as const), at }),
);

function apply(buf: Buffer, o: Op): Buffer {
  const n = buf.length;
  const i = n === 0 ? 0 : o.at % (n + 1);
  switch (o.k) {
    case 'flip':
      if (n === 0) return buf;
      return withByte(buf, o.at % n, buf[o.at % n]! ^ (1 << o.bit));
    case 'set':
      if (n === 0) return Buffer.from([o.byte]);
      return withByte(buf, o.at % n, o.byte);
    case 'insert':
      return Buffer.concat([buf.subarray(0, i), Buffer.from(o.bytes), buf.subarray(i)]);
    case 'token':
      return Buffer.concat([buf.subarray(0, i), INTERESTING[o.token]!, buf.subarray(i)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, i), buf.subarray(i + o.len)]);
    case 'repeat': {
      const piece = buf.subarray(i, i + o.len);
      if (piece.length === 0) return buf;
      return Buffer.concat([buf.subarray(0, i), Buffer.alloc(piece.length * o.times, piece), buf.subarray(i)]);
    }
    case 'truncate':
      return buf.subarray(0, i);
  }
}

function withByte(buf: Buffer, i: number, v: number): Buffer {
  const b = Buffer.from(buf);
  b[i] = v;
  return b;
}

export interface Mutated<T = undefined> {
  bytes: Buffer;
  /** No mutation was applied: the input is what the grammar built (targets may expect it to be accepted). */
  pristine: boolean;
  /** What the generator knew about the input before mutation (e.g. the expected decoding). */
  meta: T;
}

/**
 * Messages from `base`, a quarter of them as built, the rest with one to four byte mutations. `base`
 * gives bytes and optional metadata the target may check the parse against when nothing was mutated.
 */
export function mutated<T = undefined>(base: fc.Arbitrary<{ bytes: Buffer; meta: T }>): fc.Arbitrary<Mutated<T>> {
  return fc
    .tuple(base, fc.oneof({ weight: 1, arbitrary: fc.constant([] as Op[]) }, { weight: 3, arbitrary: fc.array(op, { minLength: 1, maxLength: 4 }) }))
    .map(([b, ops]) => ({ bytes: ops.reduce(apply, b.bytes), pristine: ops.length === 0, meta: b.meta }));
}

/** `mutated` for a generator of latin1 text without metadata. */
export function mutatedText(base: fc.Arbitrary<string>): fc.Arbitrary<Mutated> {
  return mutated(base.map((s) => ({ bytes: Buffer.from(s, 'latin1'), meta: undefined })));
}

/** Where a byte stream is cut into the chunks a socket would deliver. */
export const chunkCuts = fc.array(fc.nat(), { maxLength: 6 });

export function chunks(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (buf.length ? c % buf.length : 0)))].filter((c) => c > 0).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(buf.subarray(from, c));
    from = c;
  }
  out.push(buf.subarray(from));
  return out;
}

/** Short tokens of the given alphabet (names, values). */
export const token = (chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_', max = 12) =>
  fc.string({ unit: fc.constantFrom(...chars), minLength: 1, maxLength: max });

/** Shows an input as an escaped latin1 string (what reached the parser). */
export function showBytes(b: Buffer): string {
  return JSON.stringify(b.toString('latin1'));
}
