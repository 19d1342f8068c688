import type { StreamCatalog } from '../plugins/contract.js';
import { CamdError, ErrorCodes } from '../errors.js';
import type { DerivedCodec, StreamSettings } from './types.js';
import { defineStreamKeys, streamKeyName, type StreamKeyName } from '../state/keys.js';
import type { StateStore } from '../state/store.js';

/** What the host needs of the media plane: the stream catalog plus lifecycle and health. */
export interface MediaPlane extends StreamCatalog {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(name: string): { healthy: boolean; reasons: string[] };
}

/**
 * A media plane without pipelines: the configured streams exist, nothing is encoded. Used when the
 * host runs with `media: false` (API-only tests, tooling such as `camd plugins`).
 */
export class StaticMediaPlane implements MediaPlane {
  constructor(
    private readonly streams: StreamSettings[],
    state: StateStore,
  ) {
    defineStreamKeys(state, streams);
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
  stats(name: string): Record<string, unknown> | undefined {
    return this.get(name)
      ? { clientCount: 0, totalBytesStreamed: 0, currentBitrate: 0, frameDrops: 0, errors: 0, uptime: 0, fps: 0, running: false }
      : undefined;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  health(): { healthy: boolean; reasons: string[] } {
    return { healthy: true, reasons: [] };
  }
}
