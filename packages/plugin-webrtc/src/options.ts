import type { DerivedCodec } from '@camd/core';

export interface WebRtcOptions {
  /** Most concurrent viewers over all streams; more offers answer 429. */
  maxViewers: number;
  /** Most concurrent viewers of one user (so that one account cannot take every viewer slot); more answer 429. */
  maxViewersPerUser: number;
  /** Host candidates offered besides the interfaces' own (loopback by default: a browser on the camera connects). */
  additionalHostAddresses: string[];
  /** UDP port range for ICE (firewalled installations); both or neither. */
  icePortMin?: number;
  icePortMax?: number;
  gatherTimeoutMs: number;
  connectTimeoutMs: number;
  disconnectTimeoutMs: number;
  maxQueueFrames: number;
  /**
   * Refuse (422) an offer none of whose H.264 profiles decodes the stream's (Annex A), instead of
   * sending the stream under the closest offered profile (`profileMismatch` in the viewer's stats).
   */
  strictProfile: boolean;
  /**
   * Derived encodings for clients without the stream's codec, in order of preference ([] turns them
   * off); one already running for the stream is preferred to these. Default VP9, VP8, AV1: the cheapest
   * to encode here first (720p30: vp9enc ≈ 22 %, vp8enc ≈ 26 %, av1enc ≈ 59 % of a core, README).
   */
  derivedCodecs: DerivedCodec[];
  /** How long a derived encoder keeps running after its last viewer left. */
  derivedLingerMs: number;
}

export const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxViewers: { type: 'integer', minimum: 1, maximum: 1000, default: 32 },
    maxViewersPerUser: { type: 'integer', minimum: 1, maximum: 1000, default: 16 },
    additionalHostAddresses: { type: 'array', items: { type: 'string', pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$' }, default: ['127.0.0.1'] },
    icePortMin: { type: 'integer', minimum: 1024, maximum: 65535 },
    icePortMax: { type: 'integer', minimum: 1024, maximum: 65535 },
    gatherTimeoutMs: { type: 'integer', minimum: 0, maximum: 10_000, default: 1000 },
    connectTimeoutMs: { type: 'integer', minimum: 1000, maximum: 120_000, default: 20_000 },
    disconnectTimeoutMs: { type: 'integer', minimum: 1000, maximum: 120_000, default: 10_000 },
    maxQueueFrames: { type: 'integer', minimum: 2, maximum: 1000, default: 60 },
    strictProfile: { type: 'boolean', default: false },
    derivedCodecs: { type: 'array', items: { enum: ['vp8', 'vp9', 'av1'] }, uniqueItems: true, default: ['vp9', 'vp8', 'av1'] },
    derivedLingerMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 30_000 },
  },
} as const;
