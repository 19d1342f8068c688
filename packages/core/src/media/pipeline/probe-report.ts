import type { CamdHooks } from '../../hooks.js';
import type { StreamLimits } from '../bounds.js';
import type { ElementRegistry, ElementTrial } from '../registry.js';
import type { SourceMode } from '../source-caps.js';
import type { StreamSettings } from '../types.js';
import { DECODERS } from './decoders.js';
import { canonical, type ProbedDevice } from './devices.js';
import { buildPipeline } from './launch.js';

/** One camera in `GET /api/devices` and `camd probe`. */
export interface DeviceEntry {
  readonly name: string;
  readonly path?: string;
  readonly api?: string;
  /** The source element camd opens it with. */
  readonly element?: string;
  readonly modes: readonly SourceMode[];
  /** Its V4L2 controls; absent when they cannot be read. */
  readonly controls?: readonly string[];
  /** Streams whose `source` is this camera. */
  readonly streams: readonly string[];
  readonly error?: string;
}

export interface DevicesReport {
  readonly devices: readonly DeviceEntry[];
  /** Cameras the config names that the probe does not see (unplugged, or no provider lists them). */
  readonly missing: ReadonlyArray<{ readonly path: string; readonly streams: readonly string[]; readonly unpluggedSince?: string }>;
}

export function devicesReport(
  all: readonly ProbedDevice[],
  streams: readonly StreamSettings[],
  absentSince: (path: string) => number | undefined,
): DevicesReport {
  // A camera unplugged since the last probe is not there, whatever that probe saw.
  const gone = streams.flatMap((s) => (s.source.kind === 'device' && absentSince(s.source.device) !== undefined ? [s.source.device] : []));
  const devices = all.filter((d) => !gone.some((p) => p === d.path || sameNode(p, d)));
  const readers = (d: ProbedDevice) =>
    streams
      .filter((s) => s.source.kind === 'device' && (s.source.device === d.path || s.source.device === d.name || sameNode(s.source.device, d)))
      .map((s) => s.name);
  const seen = new Set(devices.flatMap(readers));
  const missing = new Map<string, string[]>();
  for (const s of streams) if (s.source.kind === 'device' && !seen.has(s.name)) missing.set(s.source.device, [...(missing.get(s.source.device) ?? []), s.name]);
  return {
    devices: devices.map((d) => ({
      name: d.name,
      path: d.path,
      api: d.api,
      element: d.launch,
      modes: d.modes,
      ...(d.controls ? { controls: d.controls } : {}),
      streams: readers(d),
      ...(d.error ? { error: d.error } : {}),
    })),
    missing: [...missing].map(([path, names]) => {
      const since = absentSince(path);
      return { path, streams: names, ...(since !== undefined ? { unpluggedSince: new Date(since).toISOString() } : {}) };
    }),
  };
}

function sameNode(source: string, d: ProbedDevice): boolean {
  return d.path !== undefined && canonical(source) === canonical(d.path);
}

export interface ElementEntry {
  readonly element: string;
  /** `h264`, `h265`, `mjpeg` for encoders; `jpeg`, `h264`, `h265` for decoders. */
  readonly format: string;
  readonly family?: string;
  readonly hardware: boolean;
  readonly present: boolean;
  /** The Debian package that ships it, when it is missing and known. */
  readonly package?: string;
  readonly trial?: ElementTrial;
}

export interface StreamPlan {
  readonly name: string;
  readonly source: string;
  readonly picture: string;
  readonly path?: string;
  readonly why?: string;
  readonly encoder?: string;
  readonly hardware?: boolean;
  readonly reason?: string;
  readonly launch?: string;
  readonly error?: string;
  /** What bounds its picture (the source, the encoder's level). */
  readonly bounds: { readonly source: string; readonly encoder: string };
}

export interface ProbeReport {
  readonly devices: readonly DeviceEntry[];
  readonly encoders: readonly ElementEntry[];
  readonly decoders: readonly ElementEntry[];
  readonly streams: readonly StreamPlan[];
}

/** `camd probe`'s findings: what is here, what works, and what each stream would get. */
export async function probeReport(o: {
  devices: readonly ProbedDevice[];
  registry: ElementRegistry;
  streams: readonly StreamSettings[];
  hooks: CamdHooks;
  limits: (stream: string) => StreamLimits;
}): Promise<ProbeReport> {
  const r = o.registry;
  const entry = (element: string, format: string, hardware: boolean, family?: string): ElementEntry => ({
    element,
    format,
    family,
    hardware,
    present: r.has(element),
    ...(r.has(element) ? {} : { package: r.packageFor(element) }),
    ...(r.trial(element) ? { trial: r.trial(element) } : {}),
  });
  const streams: StreamPlan[] = [];
  for (const s of o.streams) {
    const base = {
      name: s.name,
      source: s.source.kind === 'device' ? s.source.device : `videotestsrc pattern=${s.source.pattern}`,
      picture: `${s.width}x${s.height} at ${s.fps} fps, ${s.codec} ${s.profile}, ${s.bitrate} bit/s`,
      bounds: { source: o.limits(s.name).source, encoder: o.limits(s.name).encoder },
    };
    try {
      const built = await buildPipeline(s, o.hooks, r);
      const e = built.spec.encoder;
      streams.push({
        ...base,
        path: built.spec.path?.path,
        why: built.spec.path?.why,
        encoder: e.factory,
        hardware: e.hardware,
        reason: e.reason,
        launch: built.launch,
      });
    } catch (err) {
      streams.push({ ...base, error: (err as Error).message });
    }
  }
  return {
    devices: devicesReport(o.devices, o.streams, () => undefined).devices,
    encoders: r.encoderCandidates().map((c) => entry(c.factory, c.codec, c.hardware, c.family)),
    decoders: DECODERS.map((d) => entry(d.factory, d.format, d.hardware, d.family)),
    streams,
  };
}
