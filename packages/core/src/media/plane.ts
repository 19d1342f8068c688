import type { StreamCatalog } from '../plugins/contract.js';
import { CamdError, ErrorCodes } from '../errors.js';
import type { DerivedCodec, StreamSettings, VideoCodec } from './types.js';
import { defineStreamKeys, streamKeyName, type StreamKeyName } from '../state/keys.js';
import type { StateStore } from '../state/store.js';
import { StreamBounds, type StreamLimits } from './bounds.js';
import { testSourceCapabilities } from './source-caps.js';
import type { Logger } from 'pino';
import type { DevicesReport } from './pipeline/probe-report.js';

/** What the host needs of the media plane: the stream catalog plus lifecycle, health and cameras. */
export interface MediaPlane extends StreamCatalog {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(name: string): { healthy: boolean; reasons: string[] };
  /** `GET /api/devices`: the cameras the device probe sees, and configured ones it does not. */
  listDevices(): Promise<DevicesReport>;
}

/**
 * A media plane without pipelines: the configured streams exist, nothing is encoded. Used when the
 * host runs with `media: false` (API-only tests, tooling such as `camd plugins`).
 */
export class StaticMediaPlane implements MediaPlane {
  private readonly bounds: StreamBounds;
  private readonly logger: Logger;

  constructor(
    private readonly streams: StreamSettings[],
    state: StateStore,
    opts: { maxPixelRate: number; logger: Logger },
  ) {
    defineStreamKeys(state, streams);
    // The settings are bounded as with pipelines: test patterns by camd's maximum, encoders by their
    // codec's ceiling (no registry here), devices not at all (nothing reads them).
    this.bounds = new StreamBounds({
      state,
      streams,
      stateKey: (s, k) => this.stateKey(s, k),
      encoderLimits: () => undefined,
      maxPixelRate: opts.maxPixelRate,
    });
    for (const s of streams) if (s.source.kind === 'test') this.bounds.setSource(s.name, testSourceCapabilities(s.source.pattern));
    this.bounds.install();
    this.logger = opts.logger;
  }
  limits(stream: string, codec?: VideoCodec): StreamLimits {
    return this.bounds.limits(stream, codec);
  }
  list(): StreamSettings[] {
    return [...this.streams];
  }
  get(name: string): StreamSettings | undefined {
    return this.streams.find((s) => s.name === name);
  }
  stateKey(stream: string, key: StreamKeyName): string {
    const i = this.streams.findIndex((s) => s.name === stream);
    if (i < 0) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${stream}"`);
    return streamKeyName(key, stream, i === 0);
  }
  async restart(): Promise<void> {}
  shareSource(): void {}
  acquireDerivedEncoding(stream: string): never {
    if (!this.get(stream)) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${stream}"`);
    throw new CamdError(ErrorCodes.GST_NO_ENCODER, 'this host runs without media pipelines: no derived encoding');
  }
  derivedCodecs(): DerivedCodec[] {
    return [];
  }
  runningDerivedCodecs(): DerivedCodec[] {
    return [];
  }
  stats(name: string): Record<string, unknown> | undefined {
    return this.get(name)
      ? { clientCount: 0, totalBytesStreamed: 0, currentBitrate: 0, frameDrops: 0, errors: 0, uptime: 0, fps: 0, running: false }
      : undefined;
  }
  async start(): Promise<void> {
    await this.bounds.enforceAtStart(this.logger);
  }
  async stop(): Promise<void> {}
  health(): { healthy: boolean; reasons: string[] } {
    return { healthy: true, reasons: [] };
  }
  /** Without media nothing probes cameras: the configured ones are listed as not seen. */
  async listDevices(): Promise<DevicesReport> {
    const missing = new Map<string, string[]>();
    for (const s of this.streams) if (s.source.kind === 'device') missing.set(s.source.device, [...(missing.get(s.source.device) ?? []), s.name]);
    return { devices: [], missing: [...missing].map(([path, streams]) => ({ path, streams })) };
  }
}
