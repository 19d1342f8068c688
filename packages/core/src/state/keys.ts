import { MEDIA_READ, MEDIA_WRITE } from '../auth/permissions.js';
import type { StateKeyDefinition } from './types.js';
import { v } from './validate.js';

/** Stream settings (resolution, frame rate, bitrate) and encoding keys (codec, profile, preset), owned by core. */
export const streamKeys = {
  streamResolution: {
    key: 'streamResolution',
    default: '1920x1080',
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.resolution(),
    description: 'Picture size WxH',
  },
  streamFramerate: {
    key: 'streamFramerate',
    default: 60,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 1, max: 240 }),
    description: 'Frames per second',
  },
  streamBitrate: {
    key: 'streamBitrate',
    default: 8_000_000,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 64_000, max: 50_000_000 }),
    description: 'Encoder target bitrate, bit/s (applied live)',
  },
  videoEncoder: {
    key: 'videoEncoder',
    default: 'h264',
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.oneOf(['h264', 'h265', 'mjpeg'] as const),
    description: 'Codec',
  },
  encoderProfile: {
    key: 'encoderProfile',
    default: 'high',
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.oneOf(['baseline', 'main', 'high'] as const),
    description: 'H.264 profile',
  },
  encoderPreset: {
    key: 'encoderPreset',
    default: 'fast',
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.oneOf(['ultrafast', 'fast', 'medium', 'slow'] as const),
    description: 'Speed/quality preset',
  },
} satisfies Record<string, StateKeyDefinition<any>>;

export type StreamKeyName = keyof typeof streamKeys;
export const STREAM_KEY_NAMES = Object.keys(streamKeys) as StreamKeyName[];

/** `streamLatencyMode`: the buffer target (low 100 ms, normal 500 ms, high 2000 ms). */
export const streamLatencyMode: StateKeyDefinition<'low' | 'normal' | 'high'> = {
  key: 'streamLatencyMode',
  default: 'low',
  permissionRead: MEDIA_READ,
  permissionWrite: MEDIA_WRITE,
  validate: v.oneOf(['low', 'normal', 'high'] as const),
  description: 'Buffering: low 100 ms, normal 500 ms, high 2000 ms',
};

export interface StreamAlignment {
  enabled: boolean;
  method: 'timestamp' | 'hardware' | 'software';
  maxLatencyMs: number;
  syncTolerance: number;
}

/** `streamAlignment`: multi-camera synchronisation by capture timestamp. */
export const streamAlignment: StateKeyDefinition<StreamAlignment> = {
  key: 'streamAlignment',
  default: { enabled: true, method: 'timestamp', maxLatencyMs: 100, syncTolerance: 33 },
  permissionRead: MEDIA_READ,
  permissionWrite: MEDIA_WRITE,
  validate: v.object({
    enabled: v.bool(),
    method: v.oneOf(['timestamp', 'hardware', 'software'] as const),
    maxLatencyMs: v.int({ min: 1, max: 10_000 }),
    syncTolerance: v.int({ min: 1, max: 1_000 }),
  }),
  description: 'Multi-camera alignment by capture timestamp',
};

/**
 * The stream keys describe one stream. The first configured stream (the primary) uses the key
 * names as they are; every other stream gets the same keys prefixed by its name: `stream2.streamBitrate`.
 */
export function streamKeyName(key: StreamKeyName, stream: string, primary: boolean): string {
  return primary ? key : `${stream}.${key}`;
}

/**
 * Defines the stream keys (`streamKeys`) for every configured stream, with the stream's configured values as
 * defaults (primary stream: plain names; others: `<name>.<key>`).
 */
export function defineStreamKeys(
  registrar: { define<T>(def: StateKeyDefinition<T>, owner: string): StateKeyDefinition<T> },
  streams: ReadonlyArray<{ name: string; width: number; height: number; fps: number; bitrate: number; codec: string; profile: string; preset: string }>,
): void {
  streams.forEach((s, i) => {
    const defaults: Record<StreamKeyName, unknown> = {
      streamResolution: `${s.width}x${s.height}`,
      streamFramerate: s.fps,
      streamBitrate: s.bitrate,
      videoEncoder: s.codec,
      encoderProfile: s.profile,
      encoderPreset: s.preset,
    };
    for (const name of STREAM_KEY_NAMES) {
      const base = streamKeys[name] as StateKeyDefinition<unknown>;
      registrar.define(
        {
          ...base,
          key: streamKeyName(name, s.name, i === 0),
          default: defaults[name],
          description: i === 0 ? base.description : `${base.description} (${s.name})`,
        },
        'core',
      );
    }
  });
}
