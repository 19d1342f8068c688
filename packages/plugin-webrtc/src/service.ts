import { acquireStreamPackets, CoreErrors, type Caller, type CodecParameters, type PluginContext } from '@camd/core';
import { WebRtcErrors } from './errors.js';
import { checkOffer, prepareOffer } from './offer.js';
import type { IceServer, Viewer } from './viewer.js';
import { playoutDelayFor } from './playout-delay.js';
import type { WebRtcOptions } from './options.js';

/** werift (about 30 MiB) loads with the first viewer: a daemon with WebRTC off, the default, never holds it. */
let viewerModule: Promise<typeof import('./viewer.js')> | undefined;
const loadViewer = () => (viewerModule ??= import('./viewer.js'));

/**
 * Every viewer of the daemon: admission (enabled, limit, stream), a packet lease per viewer,
 * and cleanup. Routes (offer endpoint, WHEP, viewer page) only translate HTTP to these calls.
 */
export class WebRtcService {
  private readonly viewers = new Map<string, Viewer>();

  constructor(private readonly ctx: PluginContext<WebRtcOptions>) {}

  get count(): number {
    return this.viewers.size;
  }

  get(id: string): Viewer | undefined {
    return this.viewers.get(id);
  }

  /** Checks the offer, starts a viewer and returns it with the answer SDP. Throws `WebRtcErrors` (and core's STREAM_UNKNOWN). */
  async open(args: { stream?: string; caller: Caller; remoteAddress: string; offerSdp: string }): Promise<{ viewer: Viewer; answer: string }> {
    if (!this.ctx.state.get<boolean>('webrtcEnabled')) {
      throw new WebRtcErrors.DISABLED();
    }
    // Before the checks below, so that no other offer can slip in between them and the viewer's creation.
    const { Viewer } = await loadViewer();
    const settings = args.stream === undefined ? this.ctx.streams.list()[0] : this.ctx.streams.get(args.stream);
    if (!settings)
      throw new CoreErrors.STREAM_UNKNOWN(
        `no stream "${args.stream}" (streams: ${this.ctx.streams
          .list()
          .map((s) => s.name)
          .join(', ')})`,
      );
    checkOffer(args.offerSdp);
    // What the encoder sends now (its SPS), not what the settings say: the answer names exactly that.
    let params: CodecParameters;
    try {
      params = await this.ctx.hub.waitForParameters(settings.name, 5000);
    } catch {
      throw new WebRtcErrors.NOT_READY(`stream "${settings.name}" has not delivered a keyframe yet; try again`);
    }
    const offer = prepareOffer(args.offerSdp, params, `stream "${settings.name}"`, { strictProfile: this.ctx.options.strictProfile });
    if (this.viewers.size >= this.ctx.options.maxViewers) {
      throw new WebRtcErrors.LIMIT(this.viewers.size, this.ctx.options.maxViewers);
    }
    const stream = settings.name;
    // One lease per viewer: core counts them and packetises each frame once for every transport.
    const lease = acquireStreamPackets(this.ctx.hub, stream);
    const o = this.ctx.options;
    let viewer: Viewer;
    try {
      viewer = new Viewer({
        stream,
        negotiated: params,
        answeredFmtp: offer.fmtp,
        profileMismatch: offer.profileMismatch,
        caller: args.caller,
        remoteAddress: args.remoteAddress,
        hub: this.ctx.hub,
        packets: lease.packets,
        log: this.ctx.logger,
        iceServers: this.ctx.state.get<IceServer[]>('webrtcIceServers'),
        additionalHostAddresses: o.additionalHostAddresses,
        icePortRange: o.icePortMin && o.icePortMax ? [o.icePortMin, o.icePortMax] : undefined,
        gatherTimeoutMs: o.gatherTimeoutMs,
        connectTimeoutMs: o.connectTimeoutMs,
        disconnectTimeoutMs: o.disconnectTimeoutMs,
        maxQueueFrames: o.maxQueueFrames,
        playoutDelay: () => playoutDelayFor(this.ctx.state.get<string>('streamLatencyMode')),
        onFeedback: (f) => this.ctx.hooks.networkFeedback.call(f),
        onConnected: (v) => this.ctx.hooks.clientConnected.call(this.clientInfo(v)),
        onClose: (v) => {
          if (this.viewers.get(v.id) !== v) return;
          this.viewers.delete(v.id);
          lease.release();
          if (v.connectedAt) this.ctx.hooks.clientDisconnected.call(this.clientInfo(v));
        },
      });
    } catch (err) {
      lease.release();
      throw err;
    }
    this.viewers.set(viewer.id, viewer);
    try {
      const answer = await viewer.answer(offer.sdp);
      if (offer.profileMismatch) {
        this.ctx.logger.warn(
          { viewer: viewer.id, stream, user: args.caller.username },
          `webrtc: profileMismatch: ${offer.profileMismatch}; no offered profile decodes it by the standard, sent anyway (option strictProfile refuses such offers)`,
        );
      }
      return { viewer, answer };
    } catch (err) {
      await viewer.close('offer failed');
      this.ctx.logger.warn({ err, stream }, 'webrtc: offer rejected by the peer connection');
      throw new WebRtcErrors.BAD_SDP(`the offer could not be applied: ${(err as Error).message}`, { cause: err });
    }
  }

  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.viewers.values()].map((v) => v.close(reason)));
  }

  /** Per-stream figures for `GET /api/stats`. */
  statsFor(stream: string): Record<string, unknown> {
    const list = [...this.viewers.values()].filter((v) => v.stream === stream);
    return {
      viewers: list.length,
      clients: list.map((v) => ({
        id: v.id,
        user: v.caller.username,
        state: v.state,
        since: new Date(v.createdAt).toISOString(),
        connectMs: v.connectedAt ? v.connectedAt - v.createdAt : null,
        packets: v.packetsSent,
        bytes: v.bytesSent,
        codec: v.negotiated.codec,
        profile: v.negotiated.profileLevelId ?? null,
        // The profile the answer named: another than the stream's when the viewer's decoder covers it
        // (Annex A) or, with profileMismatch, when nothing it offered did.
        answeredProfile: /profile-level-id=([0-9a-fA-F]{6})/.exec(v.answeredFmtp)?.[1] ?? null,
        profileMismatch: v.profileMismatch !== undefined,
        framesDropped: v.framesDropped,
        keyframeRequests: v.keyframeRequests,
        nacks: v.nacks,
        feedback: v.lastFeedback ?? null,
      })),
    };
  }

  private clientInfo(v: Viewer) {
    return { id: v.id, stream: v.stream, transport: 'webrtc', remoteAddress: v.remoteAddress, username: v.caller.username };
  }
}
