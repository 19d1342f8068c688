import type { SourceSpec } from './types.js';

/** How a source delivers pictures: raw frames, or already encoded by the camera. */
export type SourceFormat = 'raw' | 'jpeg' | 'h264' | 'h265';

/** One way a source can deliver: a size and the highest frame rate at that size. */
export interface SourceMode {
  readonly format: SourceFormat;
  readonly width: number;
  readonly height: number;
  /** Frames per second (may be fractional: 30000/1001 is 29.97). */
  readonly maxFps: number;
  /**
   * The rates it offers when the source lists them (`{ 30/1, 15/1 }`): an encoded stream taken as it
   * is (passthrough) must ask for one of these. Absent: any rate up to `maxFps` (a range).
   */
  readonly rates?: readonly number[];
  /** H.264/H.265 profiles the caps name (`profile=high`); absent: not said. */
  readonly profiles?: readonly string[];
}

/**
 * What a stream's source can produce. Core's `describeSource` tap fills it from camd's documented
 * maximum (videotestsrc) or from the caps GStreamer reads from the device (v4l2src); a device probe
 * (GstDeviceMonitor) can answer the same hook first.
 */
export interface SourceCapabilities {
  /** The source, for messages: `/dev/video0`, `test pattern smpte (videotestsrc)`. */
  readonly describe: string;
  /** Where the modes come from, for messages: `camd's videotestsrc maximum`, `the device's caps`. */
  readonly origin: string;
  /** What it delivers. Empty: nothing known (an absent device), and the source then bounds nothing. */
  readonly modes: readonly SourceMode[];
}

/**
 * Formats a stream's pipeline can take from a source: raw frames, which it converts, scales and
 * rate-limits (`videoconvert ! videoscale ! videorate drop-only=true`); a camera's JPEG, decoded
 * (`jpegdec`); its H.264/H.265, passed through as it is or decoded (source-path.ts).
 */
export const USABLE_SOURCE_FORMATS: ReadonlySet<SourceFormat> = new Set(['raw', 'jpeg', 'h264', 'h265']);

/**
 * videotestsrc draws any size at any rate; the cost lands on the machine (7680x7680 took a media
 * process to 1 GB and a 0.5 fps restart loop). It stands in for a camera, so it is bounded like the
 * board cameras camd is meant for: UHD up to 30 fps, 1080p up to 60 (the seed's stream1), 720p up to
 * 120 (sensors' high-speed modes: IMX708 1536x864@120, IMX477 1332x990@120).
 */
export const VIDEOTESTSRC_MODES: readonly SourceMode[] = [
  { format: 'raw', width: 3840, height: 2160, maxFps: 30 },
  { format: 'raw', width: 1920, height: 1080, maxFps: 60 },
  { format: 'raw', width: 1280, height: 720, maxFps: 120 },
];

/** Identity of a source: streams with the same key share one capture (see capture.ts). */
export const sourceKey = (s: SourceSpec) => (s.kind === 'device' ? `device:${s.device}` : `test:${s.pattern}`);

export function testSourceCapabilities(pattern: string): SourceCapabilities {
  return { describe: `test pattern ${pattern} (videotestsrc)`, origin: "camd's videotestsrc maximum", modes: VIDEOTESTSRC_MODES };
}

/**
 * The modes that can make `width`x`height` at `fps`: the pipeline scales down (videoscale) and drops
 * frames (videorate drop-only=true), never up: upscaling invents no detail at the cost of the big
 * picture, and videorate in drop-only mode cannot negotiate more frames than the source gives.
 */
export function modesFor(caps: SourceCapabilities, width: number, height: number, fps: number): SourceMode[] {
  return usableModes(caps).filter((m) => width <= m.width && height <= m.height && fps <= m.maxFps + 1e-9);
}

/** The modes of formats the pipeline can read; empty when none is known. */
export function usableModes(caps: SourceCapabilities): SourceMode[] {
  return caps.modes.filter((m) => USABLE_SOURCE_FORMATS.has(m.format));
}

/** Why the source cannot produce `width`x`height` at `fps`, or undefined when it can (or nothing is known). */
export function sourceRefuses(caps: SourceCapabilities, width: number, height: number, fps: number): string | undefined {
  const modes = usableModes(caps);
  if (modes.length === 0 || modesFor(caps, width, height, fps).length > 0) return undefined;
  return `${caps.describe} delivers at most ${describeModes(modes)} (${caps.origin}; smaller sizes are scaled down from these)`;
}

/**
 * `3840x2160 up to 30 fps, 1920x1080 up to 60 fps`, largest first, one entry per size; a source
 * that is not all raw names the formats of each size (`1920x1080 up to 30 fps (jpeg, h264)`).
 */
export function describeModes(modes: readonly SourceMode[]): string {
  const best = new Map<string, { mode: SourceMode; formats: Set<SourceFormat> }>();
  for (const m of modes) {
    const k = `${m.width}x${m.height}`;
    const e = best.get(k) ?? { mode: m, formats: new Set<SourceFormat>() };
    if (e.mode.maxFps < m.maxFps) e.mode = m;
    e.formats.add(m.format);
    best.set(k, e);
  }
  const allRaw = modes.every((m) => m.format === 'raw');
  const fps = (f: number) => (Number.isInteger(f) ? String(f) : f.toFixed(2));
  return [...best.values()]
    .sort((a, b) => b.mode.width * b.mode.height - a.mode.width * a.mode.height || b.mode.maxFps - a.mode.maxFps)
    .map(({ mode: m, formats }) => `${m.width}x${m.height} up to ${fps(m.maxFps)} fps${allRaw ? '' : ` (${[...formats].join(', ')})`}`)
    .join(', ');
}

const FORMAT_OF: Record<string, SourceFormat> = { 'video/x-raw': 'raw', 'image/jpeg': 'jpeg', 'video/x-h264': 'h264', 'video/x-h265': 'h265' };

/**
 * Modes from the caps GStreamer reports for a source (`gst_pad_query_caps` on v4l2src in READY, or a
 * GstDevice's caps): one structure per format and size, each with a list or a range of frame rates,
 * e.g. `video/x-raw, format=(string)YUY2, width=(int)1280, height=(int)720, framerate=(fraction){ 10/1, 5/1 }`.
 * A size range (`width=(int)[ 32, 4056, 2 ]`, stepwise sensors) counts as its largest size. Structures
 * without a known format, size or rate are skipped; so are unbounded ones (videotestsrc's template
 * caps reach 2147483647), which describe no real limit.
 */
export function modesFromCaps(caps: string): SourceMode[] {
  const out: SourceMode[] = [];
  for (const structure of splitStructures(caps)) {
    // `video/x-raw(memory:DMABuf)`: the caps features do not change the format.
    const format =
      FORMAT_OF[
        structure
          .split(',')[0]!
          .replace(/\(.*\)$/, '')
          .trim()
      ];
    const width = largestInt(field(structure, 'width'));
    const height = largestInt(field(structure, 'height'));
    const rate = field(structure, 'framerate');
    const maxFps = largestFraction(rate);
    if (!format || !width || !height || !maxFps) continue;
    if (width >= UNBOUNDED || height >= UNBOUNDED || maxFps >= UNBOUNDED) continue;
    const rates = rate && !rate.startsWith('[') ? fractions(rate).filter((r) => r > 0) : undefined;
    const profile = field(structure, 'profile');
    const profiles = profile ? inner(profile).map((p) => p.replace(/^"|"$/g, '')) : undefined;
    out.push({ format, width, height, maxFps, ...(rates ? { rates } : {}), ...(profiles ? { profiles } : {}) });
  }
  return out;
}

/** A caps value at or above this is GStreamer's "any" (G_MAXINT), not a device's limit. */
const UNBOUNDED = 1_000_000;

/** Caps structures are separated by `;` outside brackets and braces. */
function splitStructures(caps: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < caps.length; i++) {
    const c = caps[i];
    if (c === '[' || c === '{' || c === '<') depth++;
    else if (c === ']' || c === '}' || c === '>') depth--;
    else if (c === ';' && depth === 0) {
      out.push(caps.slice(start, i));
      start = i + 1;
    }
  }
  out.push(caps.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}

/** The raw text of a field's value: `(int)640`, `(int)[ 16, 1920 ]`, `(fraction){ 30/1, 15/1 }`. */
function field(structure: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|,)\\s*${name}=(\\([a-z]+\\))?\\s*(\\[[^\\]]*\\]|\\{[^}]*\\}|[^,]+)`).exec(structure);
  return m?.[2]?.trim();
}

function largestInt(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const nums = inner(v)
    .map((x) => Number(x))
    .filter(Number.isFinite);
  // A range [min, max(, step)] ends at its second number; a list's largest is its largest.
  if (v.startsWith('[')) return nums[1];
  return nums.length ? Math.max(...nums) : undefined;
}

function fractions(v: string): number[] {
  return inner(v).map((x) => {
    const [n, d] = x.split('/').map(Number) as [number, number?];
    return d ? n / d : n;
  });
}

function largestFraction(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const values = fractions(v);
  if (v.startsWith('[')) return values[1];
  const finite = values.filter(Number.isFinite);
  return finite.length ? Math.max(...finite) : undefined;
}

function inner(v: string): string[] {
  return v
    .replace(/^[[{<]\s*|\s*[\]}>]$/g, '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
