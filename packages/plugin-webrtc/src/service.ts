import { acquireStreamPackets, CoreErrors, type Caller, type CodecParameters, type DerivedEncodingLease, type PluginContext } from '@camd/core';
import { WebRtcErrors } from './errors.js';
import { checkOffer, prepareOffer } from './offer.js';
import { FrameFanout } from './fanout.js';
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
  /** Offers admitted but still waiting for their derived encoding's first keyframe (they count toward maxViewers). */
  private admitting = 0;
  /** One packet-by-packet fan-out per stream, shared by its viewers (see fanout.ts). */
  private readonly fanouts = new Map<string, FrameFanout>();

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
    const o = this.ctx.options;
    const derivedCodecs = o.derivedCodecs.filter((c) => this.ctx.streams.derivedCodecs().includes(c));
    const offer = prepareOffer(args.offerSdp, params, `stream "${settings.name}"`, {
      strictProfile: o.strictProfile,
      derivedCodecs,
      runningDerived: this.ctx.streams.runningDerivedCodecs(settings.name),
    });
    if (this.viewers.size + this.admitting >= o.maxViewers) {
      throw new WebRtcErrors.LIMIT(this.viewers.size, o.maxViewers);
    }
    const user = args.caller.username;
    const mine = [...this.viewers.values()].filter((v) => v.caller.username === user).length;
    if (mine >= this.ctx.options.maxViewersPerUser) throw new WebRtcErrors.USER_LIMIT(user, mine, this.ctx.options.maxViewersPerUser);
    const stream = settings.name;
    // A client without the stream's codec plays the stream's derived encoding (one extra encoder per
    // stream and codec, shared by every such viewer, stopped derivedLingerMs after the last leaves).
    let derived: DerivedEncodingLease | undefined;
    if (offer.derived) {
      this.admitting++;
      try {
        derived = this.ctx.streams.acquireDerivedEncoding(stream, offer.derived, { lingerMs: o.derivedLingerMs });
        params = await this.ctx.hub.waitForParameters(derived.hubStream, 10_000);
      } catch {
        derived?.release();
        throw new WebRtcErrors.NOT_READY(`stream "${stream}"'s ${offer.derived.toUpperCase()} encoding for this browser has not started yet; try again`);
      } finally {
        this.admitting--;
      }
    }
    const hubStream = derived?.hubStream ?? stream;
    // One lease per viewer: core counts them and packetises each frame once for every transport.
    const lease = acquireStreamPackets(this.ctx.hub, hubStream);
    const release = () => {
      lease.release();
      derived?.release();
    };
    let viewer: Viewer;
    try {
      viewer = new Viewer({
        stream,
        hubStream,
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
        fanout: this.fanoutOf(hubStream),
        playoutDelay: () => playoutDelayFor(this.ctx.state.get<string>('streamLatencyMode')),
        onFeedback: (f) => this.ctx.hooks.networkFeedback.call(f),
        onConnected: (v) => this.ctx.hooks.clientConnected.call(this.clientInfo(v)),
        onClose: (v) => {
          if (this.viewers.get(v.id) !== v) return;
          this.viewers.delete(v.id);
          release();
          if (v.connectedAt) this.ctx.hooks.clientDisconnected.call(this.clientInfo(v));
        },
      });
    } catch (err) {
      release();
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

  private fanoutOf(stream: string): FrameFanout {
    let f = this.fanouts.get(stream);
    if (!f) this.fanouts.set(stream, (f = new FrameFanout()));
    return f;
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
        // `derived`: an extra encoding of the stream's pictures for a client without its codec.
        encoding: v.hubStream === v.stream ? 'stream' : 'derived',
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
