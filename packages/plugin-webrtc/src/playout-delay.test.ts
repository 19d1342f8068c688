import { describe, expect, it } from 'vitest';
import { parsePlayoutDelay, playoutDelayFor, serializePlayoutDelay } from './playout-delay.js';

describe('playout-delay header extension', () => {
  it('maps each streamLatencyMode onto min/max playout delay', () => {
    expect(playoutDelayFor('low')).toEqual({ minMs: 0, maxMs: 100 });
    expect(playoutDelayFor('normal')).toEqual({ minMs: 0, maxMs: 500 });
    expect(playoutDelayFor('high')).toEqual({ minMs: 500, maxMs: 2000 });
  });

  it('packs 12-bit min and max in 10 ms units', () => {
    // min 100 ms = 10 = 0x00a, max 2000 ms = 200 = 0x0c8 → 00 a0 c8
    expect(serializePlayoutDelay({ minMs: 100, maxMs: 2000 })).toEqual(Buffer.from([0x00, 0xa0, 0xc8]));
    expect(serializePlayoutDelay({ minMs: 0, maxMs: 100 })).toEqual(Buffer.from([0x00, 0x00, 0x0a]));
    for (const mode of ['low', 'normal', 'high']) expect(parsePlayoutDelay(serializePlayoutDelay(playoutDelayFor(mode)))).toEqual(playoutDelayFor(mode));
    // Out of range: clamped to 40.95 s, and max never below min.
    expect(parsePlayoutDelay(serializePlayoutDelay({ minMs: 50_000, maxMs: 10 }))).toEqual({ minMs: 40_950, maxMs: 40_950 });
  });
});
