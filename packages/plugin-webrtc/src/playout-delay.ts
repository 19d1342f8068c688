import { getLatencyMs } from '@camd/core';

/**
 * The playout-delay RTP header extension (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay):
 * the sender tells the receiver the smallest and largest delay it may add before rendering a frame,
 * which Chromium's jitter buffer honours. 3 bytes: 12 bits min, 12 bits max, in 10 ms units.
 */
export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

export interface PlayoutDelay {
  readonly minMs: number;
  readonly maxMs: number;
}

/** 12 bits of 10 ms. */
const MAX_MS = 0xfff * 10;

/**
 * The browser's share of `streamLatencyMode`'s budget: at most the budget (max). Only high sets a
 * floor (min, a quarter of its budget: 500 ms), room for retransmissions and network jitter; low and
 * normal render each frame as soon as it is complete (min 0), because their budget goes to the
 * encoder: normal's lookahead holds about 330 ms at 30 fps (measured through RTSP: 400 ms
 * glass-to-glass against 72 ms in low).
 */
export function playoutDelayFor(mode: string): PlayoutDelay {
  const budget = getLatencyMs(mode);
  return { minMs: mode === 'high' ? budget / 4 : 0, maxMs: budget };
}

export function serializePlayoutDelay({ minMs, maxMs }: PlayoutDelay): Buffer {
  const min = Math.round(Math.min(MAX_MS, Math.max(0, minMs)) / 10);
  const max = Math.round(Math.min(MAX_MS, Math.max(minMs, maxMs)) / 10);
  return Buffer.from([min >> 4, ((min & 0xf) << 4) | (max >> 8), max & 0xff]);
}

export function parsePlayoutDelay(b: Buffer): PlayoutDelay {
  const min = (b[0]! << 4) | (b[1]! >> 4);
  const max = ((b[1]! & 0xf) << 8) | b[2]!;
  return { minMs: min * 10, maxMs: max * 10 };
}
