import { CamdError, ErrorCodes, MEDIA_WRITE, type StreamSettings, type VideoCodec } from '@camd/core';
import { fault, text, type OpContext } from './operations.js';
import { require as requirePermission } from './security.js';

/** What GetVideoEncoderConfigurationOptions lists for a codec: sizes and rates a Set… accepts. */
export interface EncoderOptions {
  readonly resolutions: ReadonlyArray<readonly [width: number, height: number]>;
  readonly maxFps: number;
}

/**
 * Sizes and the highest rate the streams accept for `codec`, from core's bounds (source, encoder level,
 * pixel budget): sizes at each stream's rate, rates at its size, so each listed value is accepted by
 * a SetVideoEncoderConfiguration that changes it alone. Options asked for no configuration in
 * particular list what every stream accepts.
 */
export function encoderOptions(o: OpContext, streams: readonly StreamSettings[], codec?: VideoCodec): EncoderOptions {
  const all = streams.map((s) => o.ctx.streams.limits(s.name, codec));
  const key = (r: { width: number; height: number }) => `${r.width}x${r.height}`;
  const common = all[0]!.resolutions.filter((r) => all.every((l) => l.resolutions.some((x) => key(x) === key(r))));
  return { resolutions: common.map((r) => [r.width, r.height] as const), maxFps: Math.min(...all.map((l) => l.frameRate.max)) };
}

export const resolutionsXml = (opts: EncoderOptions) =>
  opts.resolutions.map(([w, h]) => `<tt:ResolutionsAvailable><tt:Width>${w}</tt:Width><tt:Height>${h}</tt:Height></tt:ResolutionsAvailable>`).join('');

/**
 * SetVideoSourceConfiguration (Media and Media2): the source is used whole, so its bounds are the
 * stream's picture and cannot be cropped; the picture's size is the encoder configuration's Resolution.
 * Anything else is refused with what is allowed.
 */
export function setVideoSourceConfiguration(o: OpContext, s: StreamSettings): void {
  requirePermission(o.caller!, MEDIA_WRITE);
  const c = (o.params.Configuration ?? {}) as Record<string, unknown>;
  const source = text(c.SourceToken);
  if (source !== undefined && source !== `vs_${s.name}`)
    throw fault.invalidArg('ter:ConfigModify', `SourceToken ${source}: the source of ${s.name} is vs_${s.name}`);
  const b = c.Bounds as Record<string, unknown> | undefined;
  if (!b) return;
  const [width, height] = o.ctx.state.get<string>(o.ctx.streams.stateKey(s.name, 'streamResolution')).split('x').map(Number) as [number, number];
  const asked = ['@_x', '@_y', '@_width', '@_height'].map((k) => Number(b[k]));
  if (asked.join() === [0, 0, width, height].join()) return;
  const l = o.ctx.streams.limits(s.name);
  throw fault.invalidArg(
    'ter:ConfigModify',
    `Bounds ${asked.join(',')}: the video source is used whole, its bounds are 0,0,${width},${height} (no cropping); ` +
      `the picture size is the Resolution of the encoder configuration (${l.resolutions.map((r) => `${r.width}x${r.height}`).join(', ')})`,
  );
}

/** A refused state write as a SOAP fault: not allowed, or a value out of what is allowed (its message says what is). */
export function stateFault(o: OpContext, err: unknown): unknown {
  if (err instanceof CamdError && err.code === ErrorCodes.STATE_FORBIDDEN)
    return fault.notAuthorized(`${o.caller!.username} may not change the encoder configuration (needs Media_rw)`);
  if (err instanceof CamdError && err.code === ErrorCodes.STATE_INVALID) return fault.invalidArg('ter:ConfigModify', err.message);
  return err;
}
