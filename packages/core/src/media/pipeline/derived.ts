import type { Logger } from 'pino';
import type { StreamHub } from '../hub.js';
import type { DerivedCodec, EncodedFrame, EncoderChoice, StreamSettings } from '../types.js';
import { isJoinPoint } from '../codec.js';
import { rawCaps } from './launch.js';
import { captureInputName, MEDIA_OUT_ELEMENT } from './protocol.js';
import type { MediaPipeline, MediaProcess } from './media-process.js';
import { RestartSupervisor } from './restart-policy.js';
import { ProductionMeter } from './stream-stats.js';

/** The hub name of a stream's derived encoding: stream names never hold a colon, so it cannot be a stream's. */
export const derivedStreamName = (stream: string, codec: DerivedCodec) => `${stream}:${codec}`;

/** Every derived codec (plugin-webrtc's option `derivedCodecs` orders them). */
export const DERIVED_CODECS: readonly DerivedCodec[] = ['vp8', 'vp9', 'av1'];

export interface DerivedEncodingStats {
  codec: DerivedCodec;
  /** Where its frames are on the hub. */
  hubStream: string;
  /** The encoder element it runs (the registry's best for the codec), null before its first start. */
  encoder: string | null;
  running: boolean;
  /** The media process it runs in (the stream's own: it reads the stream's pictures in place). */
  mediaPid: number | null;
  /** The running pipeline's id (a new one with every start: diagnostics, tests). */
  pipeline: string | null;
  /** The bitrate its encoder was last given (the stream's, followed live). */
  targetBitrate: number;
  /** Leases held now (one per viewer that plays it). */
  users: number;
  fps: number;
  currentBitrate: number;
  restarts: number;
  lastError: string | null;
}

export interface DerivedEncodingDeps {
  hub: StreamHub;
  logger: Logger;
  /** The media process of the stream's own pipeline: the derived encoder reads that pipeline's pictures in place. */
  media: MediaProcess;
  /** The stream's settings now (size, rate, bitrate, GOP). */
  settings: () => StreamSettings;
  /** The registry's best encoder of the codec for these settings, undefined when this machine has none. */
  chooseEncoder: (codec: DerivedCodec, settings: StreamSettings) => EncoderChoice<DerivedCodec> | undefined;
  /** The role of the stream's pipeline in its media process: its `tee` after the filters hands pictures to readers. */
  role: string;
  /** It starts (first user) or stops: the stream must then make raw pictures (no camera passthrough), or no longer. */
  onActive?: (active: boolean) => void;
}

let readers = 0;

/**
 * An extra encoding of one stream's pictures in another codec (VP8 for WebRTC clients without H.264),
 * on demand: it starts with the first lease and stops `lingerMs` after the last is released. It reads
 * the stream's own pictures after the filters (timestamp, PiP), from a branch of the `tee` at the end
 * of the stream's raw chain that the media process adds for it (the same mechanism as a shared
 * capture's readers, see media-host.ts): the very same frames, no copy, and a leaky two-frame queue
 * between them, so the stream's encoder never waits for this one. Its frames go to the hub under
 * `derivedStreamName(stream, codec)`, where any number of clients consume them.
 */
export class DerivedEncoding {
  readonly hubStream: string;
  private pipeline?: MediaPipeline;
  private users = 0;
  private stopTimer?: NodeJS.Timeout;
  private readonly supervisor: RestartSupervisor;
  private readonly meter = new ProductionMeter();
  private seq = 0;
  private active = false;
  private firstFrameAt?: number;
  private encoder?: EncoderChoice<DerivedCodec>;
  private bitrate = 0;

  constructor(
    readonly stream: string,
    readonly codec: DerivedCodec,
    private readonly deps: DerivedEncodingDeps,
  ) {
    this.hubStream = derivedStreamName(stream, codec);
    deps.hub.setKeyframeRequester(this.hubStream, () => this.pipeline?.requestKeyframe());
    this.supervisor = new RestartSupervisor(
      () => this.launch(),
      ({ message, retryInMs }) => deps.logger.warn({ stream, codec, retryInMs }, `derived encoding failed: ${message}`),
    );
  }

  /** One more user; starts the encoder if it is not running. Returns the release (idempotent). */
  acquire(lingerMs: number): () => void {
    this.users++;
    clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    if (!this.active) this.start();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users > 0) return;
      this.stopTimer = setTimeout(() => void this.stop('no user left'), lingerMs);
      this.stopTimer.unref();
    };
  }

  /** The stream's pipeline plays again (after a rebuild or crash): rejoin it at once, not after the backoff. */
  streamPlaying(): void {
    if (this.active && !this.pipeline?.running) this.supervisor.retryNow();
  }

  get running(): boolean {
    return this.active && !!this.pipeline?.running;
  }

  stats(): DerivedEncodingStats {
    const now = performance.now();
    const s = this.supervisor.stats();
    return {
      codec: this.codec,
      hubStream: this.hubStream,
      encoder: this.encoder?.factory ?? null,
      running: this.running,
      mediaPid: (this.running && this.pipeline?.pid) || null,
      pipeline: (this.running && this.pipeline?.id) || null,
      targetBitrate: this.bitrate,
      users: this.users,
      fps: this.meter.fps(now),
      currentBitrate: this.meter.bitrate(now),
      restarts: s.restarts,
      lastError: s.lastError,
    };
  }

  private start(): void {
    this.active = true;
    this.deps.logger.info({ stream: this.stream, codec: this.codec }, 'derived encoding starting (first user)');
    this.deps.onActive?.(true);
    this.supervisor.start();
    this.launch();
  }

  async stop(reason: string): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.deps.onActive?.(false);
    clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    this.supervisor.stop();
    const p = this.pipeline;
    this.pipeline = undefined;
    this.meter.reset();
    this.deps.hub.resetParameters(this.hubStream);
    this.deps.logger.info({ stream: this.stream, codec: this.codec, reason }, 'derived encoding stopped');
    await p?.stop();
  }

  /**
   * The stream's bitrate changed (an operator, ABR): the running encoder takes it at once, as the
   * stream's x264enc does (vp8enc, vp9enc and av1enc reconfigure libvpx/libaom at the next frame);
   * an encoder without a live bitrate property is restarted with it.
   */
  setBitrate(bitrate: number): void {
    if (!this.active || bitrate === this.bitrate) return;
    this.bitrate = bitrate;
    const prop = this.encoder?.bitrateProperty;
    const pipeline = this.pipeline;
    if (!pipeline?.running) return; // the next launch reads the settings
    if (!prop) {
      this.pipeline = undefined;
      void pipeline.stop();
      this.launch();
      return;
    }
    pipeline
      .setProperty('encoder', prop.name, Math.max(1, Math.round(bitrate / prop.unitBitsPerSecond)))
      .catch((err: Error) => this.deps.logger.warn({ stream: this.stream, codec: this.codec, err: err.message }, 'derived encoding: bitrate not applied'));
  }

  private launch(): void {
    if (!this.active) return;
    const s = this.deps.settings();
    const encoder = this.deps.chooseEncoder(this.codec, s);
    if (!encoder) {
      this.supervisor.failed(`no ${this.codec} encoder on this machine`);
      return;
    }
    this.encoder = encoder;
    this.bitrate = s.bitrate;
    const launch = [
      // Linked by the media process to a new branch of the stream's tee (see media-host.ts).
      `proxysrc name=${captureInputName(this.deps.role, ++readers)}`,
      // The stream's pictures are in its encoder's layout (NV12 for VA): converted only then.
      'videoconvert',
      rawCaps(s),
      encoder.launch,
      `gdppay ! fdsink name=${MEDIA_OUT_ELEMENT} sync=false`,
    ].join(' ! ');
    const pipeline = this.deps.media.start(launch, { output: true });
    this.pipeline = pipeline;
    this.firstFrameAt = undefined;
    pipeline.on('frame', (f) => {
      if (this.pipeline !== pipeline) return;
      const now = performance.now();
      const keyframe = f.keyframe && isJoinPoint(this.codec, f.data);
      this.meter.add(now, f.data.length, keyframe);
      this.firstFrameAt ??= now;
      this.supervisor.running(now - this.firstFrameAt);
      const frame: EncodedFrame = {
        stream: this.hubStream,
        seq: ++this.seq,
        data: f.data,
        keyframe,
        codec: this.codec,
        captureTimeMs: f.captureTimeMs,
        rtpTimestamp: Math.round(f.captureTimeMs * 90) % 4294967296,
        receivedAt: now,
        width: f.width ?? s.width,
        height: f.height ?? s.height,
      };
      this.deps.hub.publish(frame);
    });
    pipeline.on('gstError', (e) => this.supervisor.noteError(e.message));
    pipeline.on('exit', ({ code, signal }) => {
      if (this.pipeline !== pipeline) return;
      this.pipeline = undefined;
      if (!this.active) return;
      this.supervisor.failed(signal ? `media process killed by ${signal}` : (this.supervisor.stats().lastError ?? `ended with ${code}`));
    });
  }
}
