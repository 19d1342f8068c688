import type { Logger } from 'pino';
import { CamdError, ErrorCodes } from '../errors.js';
import type { CamdHooks } from '../hooks.js';
import type { StreamKeyName } from '../state/keys.js';
import type { StateStore } from '../state/store.js';
import { v } from '../state/validate.js';
import { codecCeiling, encoderRefuses, type EncoderLimits } from './encoder-limits.js';
import { sourceKey, sourceRefuses, usableModes, type SourceCapabilities } from './source-caps.js';
import type { StreamSettings, VideoCodec } from './types.js';

/** What the seed's streams need (1920x1080@60 + 1280x720@30 ≈ 152 Mpx/s) with room left; see README, `media.maxPixelRate`. */
export const DEFAULT_MAX_PIXEL_RATE = 200_000_000;

/** Sizes offered to clients that pick from a list (ONVIF), besides the source's own and the stream's. */
export const COMMON_RESOLUTIONS: ReadonlyArray<readonly [number, number]> = [
  [3840, 2160],
  [2560, 1440],
  [1920, 1080],
  [1280, 960],
  [1280, 720],
  [1024, 576],
  [960, 540],
  [800, 600],
  [640, 480],
  [640, 360],
  [480, 270],
  [352, 288],
  [320, 240],
  [160, 120],
];

/** `streamFramerate`'s own range: the bounds below only ever narrow it. */
const MAX_FPS = 240;

/** The keys that describe a stream's picture: its size, rate and codec (the codec picks the encoder's level). */
const PICTURE_KEYS = ['streamResolution', 'streamFramerate', 'videoEncoder'] as const satisfies readonly StreamKeyName[];

/** A stored value reset to the config's at start, and why. */
export interface StoredReset {
  readonly stream: string;
  readonly reason: string;
  readonly changes: Readonly<Record<string, { readonly stored: unknown; readonly now: unknown }>>;
}

interface Picture {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly codec: VideoCodec;
}

/** What a stream's `streamResolution` and `streamFramerate` accept now (ONVIF options, `GET /api/streams`). */
export interface StreamLimits {
  /** Sizes accepted at the stream's frame rate, largest first: common sizes, the source's own, the stream's. */
  readonly resolutions: ReadonlyArray<{ readonly width: number; readonly height: number }>;
  /** Frame rates accepted at the stream's size. */
  readonly frameRate: { readonly min: number; readonly max: number };
  /** What bounds them: the source (`describeSource`), the encoder's level, the pixel budget. */
  readonly source: string;
  readonly encoder: string;
  readonly pixelRate: { readonly budget: number; readonly others: number; readonly left: number };
}

export interface StreamBoundsDeps {
  state: StateStore;
  /** The configured streams in order: their values are the keys' defaults. */
  streams: readonly StreamSettings[];
  stateKey(stream: string, key: StreamKeyName): string;
  /** The limits of the encoder that would encode a codec here for a stream (its configured `encoder`; undefined: the codec's ceiling). */
  encoderLimits(codec: VideoCodec, stream?: StreamSettings): EncoderLimits | undefined;
  /** `media.maxPixelRate`: pixels a second all streams may encode together. */
  maxPixelRate: number;
}

const mpx = (n: number) => `${(n / 1e6).toFixed(1)} Mpx/s`;
const rate = (p: Picture) => p.width * p.height * p.fps;

/**
 * Keeps every stream's size and rate within what the machine can do: what its source produces
 * (`describeSource`), what its encoder's level allows, and a pixel-rate budget over all streams. It is
 * a state constraint, so every interface (HTTP, ONVIF, plugins) is refused the same way and nothing
 * reaches a pipeline; the config's values are checked at start, and persisted values that became
 * impossible (another camera, a lower budget) fall back to the config's.
 */
export class StreamBounds {
  private readonly sources = new Map<string, SourceCapabilities>();

  constructor(private readonly deps: StreamBoundsDeps) {}

  /** Sets what a stream's source produces (undefined: nothing known, the source bounds nothing). */
  setSource(stream: string, caps: SourceCapabilities | undefined): void {
    if (caps) this.sources.set(stream, caps);
    else this.sources.delete(stream);
  }

  /**
   * A stream reads a capture shared with other streams (capture.ts): it gets that capture's frames,
   * at the rate the capture was planned with, so it cannot have more.
   */
  setCapture(stream: string, capture: { fps: number; streams: readonly string[] } | undefined): void {
    if (capture) this.captures.set(stream, capture);
    else this.captures.delete(stream);
  }

  private readonly captures = new Map<string, { fps: number; streams: readonly string[] }>();

  /** Asks `describeSource` about every stream's source; a probe that fails leaves that source unbounded (logged). */
  async describeSources(hooks: CamdHooks, logger: Logger): Promise<void> {
    for (const s of this.deps.streams) {
      try {
        this.setSource(s.name, await hooks.describeSource.promise(s));
      } catch (err) {
        this.setSource(s.name, undefined);
        logger.warn(
          { err, stream: s.name },
          `what the source of ${s.name} delivers is not known; its size and rate are bounded by the encoder and the pixel budget only`,
        );
      }
    }
  }

  /** Refuses writes of the streams' size, rate and codec beyond the bounds (a 400 that says what is allowed). */
  install(): () => void {
    const keys = this.deps.streams.flatMap((s) => PICTURE_KEYS.map((k) => this.deps.stateKey(s.name, k)));
    return this.deps.state.constrain({
      owner: 'core',
      keys,
      check: (value, changed) => {
        const next = this.pictures(value);
        const touched = this.deps.streams.filter((s) => PICTURE_KEYS.some((k) => changed.includes(this.deps.stateKey(s.name, k))));
        const why = this.refusal(next, touched, this.pictures());
        if (!why) return;
        const what = changed.map((k) => `${k} ${JSON.stringify(value(k))}`).join(', ');
        throw new CamdError(ErrorCodes.STATE_INVALID, `${what}: ${why.reason}. Allowed now for ${why.stream}: ${this.describeAllowed(why.stream)}`, {
          details: { stream: why.stream, limits: this.limits(why.stream) },
        });
      },
    });
  }

  /** The config's own values must fit: a startup error (CONFIG) names the stream and what is allowed. */
  verifyConfig(): void {
    const defaults = this.pictures((k) => this.deps.state.definition(k).default);
    const why = this.refusal(defaults, this.deps.streams, new Map(), false) ?? this.sharedCaptureRefusal(defaults);
    if (why) {
      const i = this.deps.streams.findIndex((s) => s.name === why.stream);
      const p = defaults.get(why.stream)!;
      throw new CamdError(ErrorCodes.CONFIG, `config streams[${i}] "${why.stream}": ${p.width}x${p.height} at ${p.fps} fps (${p.codec}): ${why.reason}`);
    }
    const total = [...defaults.values()].reduce((a, p) => a + rate(p), 0);
    if (total > this.deps.maxPixelRate) {
      const each = [...defaults].map(([n, p]) => `${n} ${mpx(rate(p))}`).join(', ');
      throw new CamdError(
        ErrorCodes.CONFIG,
        `config media.maxPixelRate: the configured streams encode ${mpx(total)} together (${each}), more than the budget of ${mpx(this.deps.maxPixelRate)}`,
      );
    }
  }

  /**
   * Persisted values that are no longer possible fall back to the config's (a swapped camera, a lower
   * budget, another encoder): first each stream's size, rate and codec until the stream fits its source
   * and encoder, then the last streams' sizes and rates until all fit the budget. The config's values,
   * checked by `verifyConfig`, always fit. Returns what was reset, with why, for the log.
   */
  async reconcile(): Promise<StoredReset[]> {
    const pics = this.pictures();
    const resets = new Map<string, unknown>();
    const out: StoredReset[] = [];
    const stored = (k: string) => (resets.has(k) ? resets.get(k) : this.deps.state.get(k));
    const changed = (s: StreamSettings, names: readonly StreamKeyName[]) =>
      names.map((k) => this.deps.stateKey(s.name, k)).filter((k) => stored(k) !== this.deps.state.definition(k).default);
    const withDefaults = (keys: readonly string[]) => this.pictures((k) => (keys.includes(k) ? this.deps.state.definition(k).default : stored(k)));
    const reset = (s: StreamSettings, keys: readonly string[], reason: string) => {
      out.push({
        stream: s.name,
        reason,
        changes: Object.fromEntries(keys.map((k) => [k, { stored: stored(k), now: this.deps.state.definition(k).default }])),
      });
      for (const k of keys) resets.set(k, this.deps.state.definition(k).default);
      pics.set(s.name, this.pictures(stored).get(s.name)!);
    };
    // The fewest keys that make the stream fit, in this order; all three (the config's picture) always do.
    const tries: ReadonlyArray<readonly StreamKeyName[]> = [
      ['streamResolution'],
      ['streamFramerate'],
      ['videoEncoder'],
      ['streamResolution', 'streamFramerate'],
      PICTURE_KEYS,
    ];
    for (const s of this.deps.streams) {
      const why = this.refusal(pics, [s], new Map(), false);
      if (!why) continue;
      for (const names of tries) {
        const keys = changed(s, names);
        if (keys.length > 0 && (names === PICTURE_KEYS || !this.refusal(withDefaults(keys), [s], new Map(), false))) {
          reset(s, keys, why.reason);
          break;
        }
      }
    }
    for (const s of [...this.deps.streams].reverse()) {
      const why = this.refusal(pics, [], new Map());
      if (!why) break;
      const keys = changed(s, ['streamResolution', 'streamFramerate']);
      if (keys.length > 0) reset(s, keys, why.reason);
    }
    if (resets.size > 0) await this.deps.state.setMany([...resets]);
    return out;
  }

  /**
   * At start, before any pipeline: the config must fit (else a CONFIG error), and stored values that
   * do not any more are reset to the config's, each with a warning, instead of a pipeline that fails
   * and restarts for ever.
   */
  async enforceAtStart(logger: Logger): Promise<void> {
    this.verifyConfig();
    for (const r of await this.reconcile()) {
      const what = Object.entries(r.changes).map(([k, c]) => `${k} ${JSON.stringify(c.stored)} → ${JSON.stringify(c.now)}`);
      logger.warn(
        { stream: r.stream, changes: r.changes },
        `stored settings of ${r.stream} are beyond what it can do (${r.reason}); using the config's: ${what.join(', ')}`,
      );
    }
  }

  /** What a stream accepts now, for `codec` (default: its own): sizes at its rate, rates at its size. */
  limits(stream: string, codec?: VideoCodec): StreamLimits {
    const now = this.pictures();
    const current = { ...now.get(stream)!, ...(codec ? { codec } : {}) };
    const s = this.stream(stream);
    const accepts = (p: Picture) => !this.refusal(new Map(now).set(stream, p), [s], now);
    const sizes = new Map<string, { width: number; height: number }>();
    const defaults = this.pictures((k) => this.deps.state.definition(k).default).get(stream)!;
    const candidates = [
      ...COMMON_RESOLUTIONS.map(([width, height]) => ({ width, height })),
      ...usableModes(this.sources.get(stream) ?? { describe: '', origin: '', modes: [] }),
      current,
      defaults,
    ];
    for (const { width, height } of candidates) {
      if (!validSize(width, height) || !accepts({ ...current, width, height })) continue;
      sizes.set(`${width}x${height}`, { width, height });
    }
    let max = MAX_FPS;
    while (max > 1 && !accepts({ ...current, fps: max })) max--;
    const others = [...now].filter(([n]) => n !== stream).reduce((a, [, p]) => a + rate(p), 0);
    const enc = this.encoderOf(current.codec, s);
    return {
      resolutions: [...sizes.values()].sort((a, b) => b.width * b.height - a.width * a.height || b.width - a.width),
      frameRate: { min: 1, max },
      source: this.sources.get(stream) ? `${this.sources.get(stream)!.describe} (${this.sources.get(stream)!.origin})` : 'not known',
      encoder: enc.encoder ? `${enc.level} (${enc.encoder})` : enc.level,
      pixelRate: { budget: this.deps.maxPixelRate, others, left: Math.max(0, this.deps.maxPixelRate - others) },
    };
  }

  private describeAllowed(stream: string): string {
    const p = this.pictures().get(stream)!;
    const l = this.limits(stream);
    const sizes = l.resolutions.map((r) => `${r.width}x${r.height}`).join(', ');
    return (
      `at ${p.fps} fps the sizes ${sizes || 'none'} (or any even size that fits within one of them); at ${p.width}x${p.height} 1 to ${l.frameRate.max} fps; ` +
      `pixel budget media.maxPixelRate ${mpx(l.pixelRate.budget)}, ${mpx(l.pixelRate.left)} left for ${stream}`
    );
  }

  /**
   * Why `next` is not allowed, or undefined: the `touched` streams against their source and encoder
   * (and a capture they share), then, when the total grows, every stream against the budget.
   */
  private refusal(
    next: ReadonlyMap<string, Picture>,
    touched: readonly StreamSettings[],
    before: ReadonlyMap<string, Picture>,
    budget = true,
  ): { stream: string; reason: string } | undefined {
    for (const s of touched) {
      const p = next.get(s.name)!;
      const caps = this.sources.get(s.name);
      const why = (caps && sourceRefuses(caps, p.width, p.height, p.fps)) ?? encoderRefuses(this.encoderOf(p.codec, s), p.width, p.height, p.fps);
      if (why) return { stream: s.name, reason: why };
      const capture = this.captures.get(s.name);
      if (capture && p.fps > capture.fps)
        return {
          stream: s.name,
          reason:
            `${s.name} reads the capture it shares with ${capture.streams.filter((n) => n !== s.name).join(', ')}, which runs at ${capture.fps} fps ` +
            `(the highest configured rate of its streams; frames are dropped, never made up): a higher rate needs the config changed`,
        };
    }
    if (!budget) return undefined;
    const total = [...next.values()].reduce((a, p) => a + rate(p), 0);
    const was = [...before.values()].reduce((a, p) => a + rate(p), 0);
    if (total <= this.deps.maxPixelRate || (before.size > 0 && total <= was)) return undefined;
    const s = touched[0] ?? this.deps.streams[this.deps.streams.length - 1]!;
    const p = next.get(s.name)!;
    const others = total - rate(p);
    const left = Math.max(0, this.deps.maxPixelRate - others);
    return {
      stream: s.name,
      reason:
        `the streams would encode ${mpx(total)} together, more than the pixel budget media.maxPixelRate (${mpx(this.deps.maxPixelRate)}): ` +
        `the other streams use ${mpx(others)}, leaving ${mpx(left)} for ${s.name} (${p.width}x${p.height} up to ${Math.floor(left / (p.width * p.height))} fps)`,
    };
  }

  /** Streams with one source share a capture at the largest configured size and the highest rate: the source must deliver that. */
  private sharedCaptureRefusal(pics: ReadonlyMap<string, Picture>): { stream: string; reason: string } | undefined {
    for (const s of this.deps.streams) {
      const caps = this.sources.get(s.name);
      const shared = this.deps.streams.filter((o) => sourceKey(o.source) === sourceKey(s.source));
      if (!caps || shared.length < 2) continue;
      const group = shared.map((o) => pics.get(o.name)!);
      const largest = group.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
      const fps = Math.max(...group.map((g) => g.fps));
      const why = sourceRefuses(caps, largest.width, largest.height, fps);
      if (why)
        return {
          stream: s.name,
          reason: `${shared.map((o) => o.name).join(' and ')} share one capture at ${largest.width}x${largest.height} and ${fps} fps; ${why}`,
        };
    }
    return undefined;
  }

  private encoderOf(codec: VideoCodec, stream: StreamSettings): EncoderLimits {
    return this.deps.encoderLimits(codec, stream) ?? codecCeiling(codec);
  }

  /** Every stream's picture from the state (or from `value`, the values as they would be). */
  private pictures(value: (key: string) => unknown = (k) => this.deps.state.get(k)): Map<string, Picture> {
    return new Map(
      this.deps.streams.map((s) => {
        const get = (k: StreamKeyName) => value(this.deps.stateKey(s.name, k));
        const [width, height] = String(get('streamResolution')).split('x').map(Number) as [number, number];
        return [s.name, { width, height, fps: get('streamFramerate') as number, codec: get('videoEncoder') as VideoCodec }];
      }),
    );
  }

  private stream(name: string): StreamSettings {
    const s = this.deps.streams.find((x) => x.name === name);
    if (!s) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${name}"`);
    return s;
  }
}

const resolution = v.resolution();
function validSize(width: number, height: number): boolean {
  try {
    resolution.parse(`${width}x${height}`, 'size');
    return true;
  } catch {
    return false;
  }
}
