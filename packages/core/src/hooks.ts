import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook, SyncWaterfallHook } from 'tapable';
import type { ElementRegistry } from './media/registry.js';
import type { EncoderChoice, PipelineFragment, PipelineSpec, StreamSettings } from './media/types.js';
import type { Permission } from './auth/permissions.js';
import type { SourceCapabilities } from './media/source-caps.js';

/**
 * Ordering of taps. Pass `{ name, stage }` to `tap`/`tapPromise`; lower stages run first. Order never
 * depends on the position of a plugin in the config list.
 */
export const STAGE = Object.freeze({
  /** Before everything (e.g. a source override for one stream). */
  EARLY: -1000,
  /** Video composition (PiP compositor). */
  COMPOSE: 100,
  /** Burnt-in overlays (timestamp text, time code): after composition so they sit on top. */
  OVERLAY: 200,
  /** Default behaviour of core; plugins that want to override tap earlier. */
  DEFAULT: 1000,
});

export interface TransportInfo {
  readonly plugin: string;
  /** e.g. `rtsp`, `webrtc`, `onvif`. */
  readonly protocol: string;
  readonly port?: number;
  readonly urls?: readonly string[];
}

export interface ClientInfo {
  /** Unique per connection/session. */
  readonly id: string;
  readonly stream: string;
  readonly transport: string;
  readonly remoteAddress?: string;
  readonly username?: string;
}

/** What a receiver reported about the network (RTCP RR, REMB, transport-cc), per client. */
export interface NetworkFeedback {
  readonly stream: string;
  readonly clientId: string;
  readonly transport: string;
  /** Fraction lost since the last report, 0..1. */
  readonly packetLoss?: number;
  readonly rttMs?: number;
  readonly jitterMs?: number;
  /** Estimated available bandwidth in bit/s (REMB, transport-cc), when the receiver tells. */
  readonly availableBandwidth?: number;
  readonly receivedAt: number;
}

export interface HealthCheck {
  readonly name: string;
  readonly healthy: boolean;
  readonly detail?: string;
}

export type StatsReport = Record<string, unknown>;

export interface StreamEvent {
  readonly stream: string;
  readonly reason?: string;
}

/** A caller-supplied question of "may this caller do X" for plugins' own resources. */
export interface AccessRequest {
  readonly resource: string;
  readonly required: readonly Permission[];
}

export function createHooks() {
  return Object.freeze({
    /** First plugin to return a fragment provides the stream's source (core's default: v4l2src / videotestsrc). */
    resolveSource: new AsyncSeriesBailHook<[StreamSettings], PipelineFragment | undefined>(['stream']),
    /**
     * First answer wins: what a stream's source can produce (formats, sizes, rates), asked once per
     * stream as the streams start; it bounds `streamResolution` and `streamFramerate`. Core's default:
     * camd's videotestsrc maximum, or the caps GStreamer reads from the v4l2 device. A plugin that
     * provides a stream's source (`resolveSource`), or probes devices, answers here too, earlier.
     */
    describeSource: new AsyncSeriesBailHook<[StreamSettings], SourceCapabilities | undefined>(['stream']),
    /** First answer wins; core's default asks the element registry for the best available encoder. */
    chooseEncoder: new AsyncSeriesBailHook<[StreamSettings, ElementRegistry], EncoderChoice | undefined>(['stream', 'registry']),
    /** Filters (PiP, overlays) add fragments here, ordered by STAGE. */
    buildPipeline: new AsyncSeriesWaterfallHook<[PipelineSpec]>(['spec']),
    /** A transport listens (core lists it under its plugin in `GET /api/plugins`). */
    transportStarted: new AsyncSeriesHook<[TransportInfo]>(['transport']),
    /** A transport stopped listening. */
    transportStopped: new AsyncSeriesHook<[TransportInfo]>(['transport']),
    clientConnected: new SyncHook<[ClientInfo]>(['client']),
    clientDisconnected: new SyncHook<[ClientInfo]>(['client']),
    /** RTCP and congestion-control feedback from receivers, for adaptive bitrate. */
    networkFeedback: new SyncHook<[NetworkFeedback]>(['feedback']),
    /** Plugins add their figures to `GET /api/stats`. */
    collectStats: new SyncWaterfallHook<[StatsReport]>(['stats']),
    /** Plugins add checks to `GET /api/health`. */
    collectHealth: new SyncWaterfallHook<[HealthCheck[]]>(['checks']),
    /** All plugins are set up and streams started. */
    started: new AsyncSeriesHook<[]>([]),
  });
}

export type CamdHooks = ReturnType<typeof createHooks>;
export type HookName = keyof CamdHooks;
