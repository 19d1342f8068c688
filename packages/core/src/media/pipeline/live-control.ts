import type { EncoderChoice, LiveApplier } from '../types.js';
import type { BuiltPipeline } from './launch.js';

/** The live appliers of a built pipeline: its fragments', plus the encoder's bitrate when it takes one at run time. */
export function liveAppliers(built: BuiltPipeline, bitrateKey: string): Map<string, LiveApplier[]> {
  const out = new Map<string, LiveApplier[]>();
  const add = (key: string, a: LiveApplier) => out.set(key, [...(out.get(key) ?? []), a]);
  const { spec } = built;
  for (const f of [spec.source, spec.encoder, ...spec.filters, ...spec.branches]) for (const [key, a] of Object.entries(f.live ?? {})) add(key, a);
  const prop = spec.encoder.bitrateProperty;
  const live = spec.encoder.liveBitrate;
  // x264enc's `bitrate` is changeable in PLAYING: no gap, no keyframe.
  if (prop) add(bitrateKey, (h, bitrate) => h.setProperty('encoder', prop.name, Math.max(1, Math.round((bitrate as number) / prop.unitBitsPerSecond))));
  else if (live)
    add(bitrateKey, (h, bitrate) => {
      const p = live(bitrate as number);
      return h.setProperty(p.element, p.property, p.value);
    });
  else if (spec.encoder.noBitrate) add(bitrateKey, () => undefined);
  return out;
}

/** What `/api/stats` says of a stream's encoder: which element, hardware or not, why, and how a bitrate change reaches it. */
export interface EncoderStats {
  element: string;
  family?: string;
  hardware: boolean;
  passthrough: boolean;
  reason?: string;
  /** `live (…)`: applied to the running element; `rebuild`: a change rebuilds the pipeline; `not applied: …`. */
  bitrate: string;
  notes?: Readonly<Record<string, string>>;
}

export function encoderStats(e: EncoderChoice, live: boolean): EncoderStats {
  const how = e.bitrateProperty
    ? `live (property ${e.bitrateProperty.name}${e.bitrateProperty.unitBitsPerSecond === 1000 ? ', kbit/s' : ', bit/s'})`
    : e.liveBitrate
      ? `live (${e.liveBitrate(1).property})`
      : e.noBitrate
        ? (e.bitrateNote ?? 'not applied: it has no bitrate')
        : 'rebuild (the element takes no bitrate while playing)';
  return {
    element: e.factory,
    family: e.family,
    hardware: e.hardware,
    passthrough: !!e.passthrough,
    reason: e.reason,
    bitrate: live || e.noBitrate ? how : 'rebuild',
    ...(e.notes ? { notes: e.notes } : {}),
  };
}
