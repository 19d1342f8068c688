import type { EncoderLimits } from '../encoder-limits.js';
import type { EncoderCandidate } from '../registry.js';
import type { EncoderChoice, EncoderFamily, StreamSettings } from '../types.js';

/** Browsers decode constrained-baseline, not plain baseline. */
export function h264CapsProfile(p: StreamSettings['profile']): string {
  return p === 'baseline' ? 'constrained-baseline' : p;
}

/** One of core's encoder candidates; hardware unless its family is `software`. */
export const candidate = (
  factory: string,
  codec: EncoderCandidate['codec'],
  family: EncoderFamily,
  priority: number,
  build: (s: StreamSettings) => EncoderChoice,
  limits?: EncoderLimits,
): EncoderCandidate => ({
  owner: 'core',
  factory,
  codec,
  hardware: family !== 'software',
  family,
  priority,
  build,
  limits,
});
