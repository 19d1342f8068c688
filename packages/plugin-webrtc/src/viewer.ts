import { randomUUID } from 'node:crypto';
import {
  MediaStream,
  MediaStreamTrack,
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpSrPacket,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  RtpPacket,
  useAbsSendTime,
  useFIR,
  useNACK,
  useOPUS,
  usePCMU,
  usePLI,
  useREMB,
  type RTCRtpSender,
  type RtcpPacket,
} from 'werift';
import {
  CODEC_LABEL,
  h264ProfileClass,
  type Caller,
  type CodecParameters,
  type Consumer,
  type EncodedFrame,
  type FrameCodec,
  type Logger,
  type NetworkFeedback,
  type StreamHub,
  type StreamPackets,
} from '@camd/core';
import { PLAYOUT_DELAY_URI, serializePlayoutDelay, type PlayoutDelay } from './playout-delay.js';
import { FastRtpPath } from './fast-path.js';
import type { FrameFanout, PacketTarget } from './fanout.js';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface ViewerOptions {
  stream: string;
  /** The hub stream it plays: the stream itself, or its derived encoding (`stream1:vp8`). */
  hubStream: string;
  /** The format the answer named (codec, profile): the viewer is sent this, or closed. */
  negotiated: CodecParameters;
  /** The fmtp the answer named for the stream's format. */
  answeredFmtp: string;
  /** Set when no profile the peer offered covers the stream's: why (it is sent anyway). */
  profileMismatch?: string;
  caller: Caller;
  remoteAddress: string;
  hub: StreamHub;
  packets: StreamPackets;
  log: Logger;
  iceServers: IceServer[];
  /** Host addresses offered besides the interfaces' (loopback, so a browser on the camera itself connects). */
  additionalHostAddresses: string[];
  icePortRange?: [number, number];
  /** How long the answer waits for server-reflexive candidates (an unreachable STUN server must not stall it). */
  gatherTimeoutMs: number;
  /** A peer that does not connect within this time is closed. */
  connectTimeoutMs: number;
  /**
   * A connected peer that sends nothing (no RTCP) this long, or stays ICE-disconnected this long, is
   * closed. Browsers send receiver reports every second or so; ICE consent (RFC 7675) alone would keep
   * a vanished viewer's slot for 30 s.
   */
  disconnectTimeoutMs: number;
  maxQueueFrames: number;
  /** The stream's packet-by-packet fan-out (shared by its viewers), for viewers on camd's own packet path. */
  fanout: FrameFanout;
  /** The playout delay to announce now (`streamLatencyMode`), read per frame so a change applies live. */
  playoutDelay: () => PlayoutDelay;
  onFeedback(f: NetworkFeedback): void;
  onConnected(v: Viewer): void;
  onClose(v: Viewer): void;
}

/** The RTP format name of each codec a viewer may be sent (werift matches it against the offer's, case-insensitively). */
const MIME_NAME: Record<FrameCodec, string> = { h264: 'H264', h265: 'H265', vp8: 'VP8', vp9: 'VP9', av1: 'AV1', mjpeg: 'JPEG' };

const HISTORY_MS = 1000;
const FIR_COUNT = 4;

/**
 * One browser (or WHEP player) watching one stream: a werift peer connection whose single video sender
 * forwards the stream's shared RTP packets. Nothing is encoded or packetised per viewer; the viewer
 * only rewrites sequence numbers so that frames the hub dropped for it (slow network) do not look like
 * losses, and werift adds SSRC, payload type, SRTP, NACK retransmission and sender reports.
 */
export class Viewer implements PacketTarget {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  private pc?: RTCPeerConnection;
  private sender?: RTCRtpSender;
  private consumer?: Consumer;
  private timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private lastSharedSeq?: number;
  private lastHeardAt = 0;
  private seqOffset = 0;
  /** The playout-delay extension's id as the browser offered it; undefined when it did not. */
  private playoutDelayId?: number;
  private absSendTimeId?: number;
  /** camd's own packet path (SRTP and UDP without werift's per-packet work); undefined: werift's sendRtp. */
  private fast?: FastRtpPath;
  private playoutDelayCache?: { key: string; payload: Buffer };
  packetsSent = 0;
  bytesSent = 0;
  keyframeRequests = 0;
  nacks = 0;
  connectedAt?: number;
  lastFeedback?: Omit<NetworkFeedback, 'stream' | 'clientId' | 'transport'>;

  constructor(private readonly o: ViewerOptions) {}

  get state(): string {
    return this.closed ? 'closed' : (this.pc?.connectionState ?? 'new');
  }

  get stream(): string {
    return this.o.stream;
  }

  get hubStream(): string {
    return this.o.hubStream;
  }

  get remoteAddress(): string {
    return this.o.remoteAddress;
  }

  get caller(): Caller {
    return this.o.caller;
  }

  get framesDropped(): number {
    return this.consumer?.stats.framesDropped ?? 0;
  }

  get negotiated(): CodecParameters {
    return this.o.negotiated;
  }

  get answeredFmtp(): string {
    return this.o.answeredFmtp;
  }

  get profileMismatch(): string | undefined {
    return this.o.profileMismatch;
  }

  /**
   * Why the stream's new parameters are not what this peer negotiated (another codec, or another
   * H.264/H.265 profile after `videoEncoder` or `encoderProfile` changed), or undefined when they are.
   * A WebRTC peer cannot be switched to a codec its answer did not name: it is closed, and the viewer
   * page offers again.
   */
  private refuses(p: CodecParameters): string | undefined {
    const n = this.o.negotiated;
    const name = (x: CodecParameters) =>
      x.codec === 'h264'
        ? `H.264 ${h264ProfileClass(x.profileLevelId ?? '') ?? x.profileLevelId}`
        : x.codec === 'h265'
          ? `H.265 profile ${x.h265?.profileId}`
          : CODEC_LABEL[x.codec];
    const same =
      p.codec === n.codec &&
      (p.codec !== 'h264' || h264ProfileClass(p.profileLevelId ?? '') === h264ProfileClass(n.profileLevelId ?? '')) &&
      (p.codec !== 'h265' || p.h265?.profileId === n.h265?.profileId);
    return same ? undefined : `stream ${this.o.stream} is now ${name(p)}; this peer negotiated ${name(n)}`;
  }

  /** Applies the (already checked) offer and returns the answer SDP with the gathered candidates. */
  async answer(offerSdp: string): Promise<string> {
    const pc = new RTCPeerConnection({
      iceServers: this.o.iceServers,
      iceAdditionalHostAddresses: this.o.additionalHostAddresses,
      icePortRange: this.o.icePortRange,
      iceUseIpv6: false,
      codecs: {
        // Only the stream's codec: the offer was already narrowed to its one format (offer.ts).
        video: [
          new RTCRtpCodecParameters({
            mimeType: `video/${MIME_NAME[this.o.negotiated.codec]}`,
            clockRate: 90000,
            rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()],
          }),
        ],
        audio: [useOPUS(), usePCMU()],
      },
      headerExtensions: { video: [useAbsSendTime(), new RTCRtpHeaderExtensionParameters({ uri: PLAYOUT_DELAY_URI })], audio: [] },
    });
    this.pc = pc;
    const track = new MediaStreamTrack({ kind: 'video' });
    const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [new MediaStream({ id: `camd-${this.o.stream}`, tracks: [track] })] });
    this.sender = transceiver.sender;
    this.sender.onRtcp.subscribe((p) => this.onRtcp(p));
    this.sender.onGenericNack.subscribe((nack) => {
      this.nacks++;
      // werift answers NACKs from its own cache, which the fast path leaves empty.
      if (this.fast) this.fast.resend(nack.lost, this.playoutDelay());
    });
    pc.connectionStateChange.subscribe((s) => this.onState(s));

    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    // werift answers the offered extensions it was configured with, under the offer's ids.
    this.playoutDelayId = transceiver.headerExtensions.find((e) => e.uri === PLAYOUT_DELAY_URI)?.id;
    this.absSendTimeId = transceiver.headerExtensions.find((e) => e.uri === useAbsSendTime().uri)?.id;
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await this.gathered(pc);
    this.timer(() => {
      if (pc.connectionState !== 'connected') void this.close(`not connected within ${this.o.connectTimeoutMs} ms`);
    }, this.o.connectTimeoutMs);
    return pc.localDescription!.sdp;
  }

  /** Ends the session (idempotent). */
  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.consumer?.close();
    this.consumer = undefined;
    this.o.log.info({ viewer: this.id, stream: this.o.stream, user: this.o.caller.username, reason }, 'webrtc: viewer closed');
    this.o.onClose(this);
    await this.pc?.close().catch(() => {});
  }

  private gathered(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, this.o.gatherTimeoutMs);
      const sub = pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && done());
      function done() {
        clearTimeout(t);
        sub.unSubscribe();
        resolve();
      }
    });
  }

  private onState(s: string): void {
    if (this.closed) return;
    if (s === 'connected' && !this.consumer) {
      this.connectedAt = Date.now();
      this.fast = FastRtpPath.start(this.sender!, this.absSendTimeId);
      this.o.log.info(
        { viewer: this.id, stream: this.o.stream, user: this.o.caller.username, ms: this.connectedAt - this.createdAt, path: this.fast ? 'camd' : 'werift' },
        'webrtc: viewer connected',
      );
      this.consumer = this.o.hub.subscribe(this.o.hubStream, {
        name: `webrtc ${this.o.remoteAddress} ${this.o.caller.username}`,
        maxQueue: this.o.maxQueueFrames,
        onFrame: (f) => this.send(f),
        accept: (p) => this.refuses(p),
        onRejected: (reason) => void this.close(reason),
      });
      this.o.hub.requestKeyframe(this.o.hubStream);
      this.o.onConnected(this);
      this.lastHeardAt = Date.now();
      this.sender!.dtlsTransport.onRtcp.subscribe(() => void (this.lastHeardAt = Date.now()));
      this.watchSilence();
    } else if (s === 'failed' || s === 'closed') {
      void this.close(`connection ${s}`);
    } else if (s === 'disconnected') {
      this.timer(() => {
        if (this.pc?.connectionState === 'disconnected') void this.close(`disconnected for ${this.o.disconnectTimeoutMs} ms`);
      }, this.o.disconnectTimeoutMs);
    }
  }

  private watchSilence(): void {
    const every = Math.min(1000, this.o.disconnectTimeoutMs / 2);
    this.timer(() => {
      const silent = Date.now() - this.lastHeardAt;
      if (silent > this.o.disconnectTimeoutMs) void this.close(`no RTCP from the peer for ${silent} ms`);
      else this.watchSilence();
    }, every);
  }

  private send(frame: EncodedFrame): Promise<void> | void {
    const sender = this.sender;
    if (!sender || this.closed) return;
    if (this.fast) {
      this.o.fanout.enqueue(this, frame, this.o.packets.packetsOf(frame));
      return;
    }
    const sends: Promise<void>[] = [];
    const delay = this.playoutDelay();
    for (const buf of this.o.packets.packetsOf(frame)) {
      const packet = RtpPacket.deSerialize(buf);
      packet.header.sequenceNumber = this.viewerSeq(packet.header.sequenceNumber);
      // On every packet: Chromium keeps the last value it saw, and a lost packet must not lose it.
      if (delay) packet.header.extensions.push({ id: delay.id, payload: delay.payload });
      this.packetsSent++;
      this.bytesSent += buf.length;
      sends.push(sender.sendRtp(packet));
    }
    return Promise.all(sends).then(() => undefined);
  }

  /**
   * This viewer's sequence number for a shared one: continuous across frames the hub skipped for this
   * viewer, or the browser would NACK packets nobody can resend and then ask for a keyframe it is
   * about to get anyway.
   */
  private viewerSeq(shared: number): number {
    if (this.lastSharedSeq !== undefined && shared !== ((this.lastSharedSeq + 1) & 0xffff)) {
      this.seqOffset = (this.seqOffset - (shared - this.lastSharedSeq - 1)) & 0xffff;
    }
    this.lastSharedSeq = shared;
    return (shared + this.seqOffset) & 0xffff;
  }

  /** Packet `index` of `frame` on the fast path (called by the stream's fan-out, packet by packet). */
  sendPacket(buf: Buffer, frame: EncodedFrame, index: number): void {
    const fast = this.fast;
    if (!fast || this.closed) return;
    if (index === 0) fast.frame(frame.captureTimeMs, frame.rtpTimestamp);
    const sent = fast.send(buf, this.viewerSeq(buf.readUInt16BE(2)), this.playoutDelay());
    if (sent > 0) {
      this.packetsSent++;
      this.bytesSent += buf.length;
    }
  }

  /** The extension to add to this frame's packets (the budget may have changed since the last one). */
  private playoutDelay(): { id: number; payload: Buffer } | undefined {
    const id = this.playoutDelayId;
    if (id === undefined) return undefined;
    const d = this.o.playoutDelay();
    const key = `${d.minMs}/${d.maxMs}`;
    if (this.playoutDelayCache?.key !== key) this.playoutDelayCache = { key, payload: serializePlayoutDelay(d) };
    return { id, payload: this.playoutDelayCache.payload };
  }

  private onRtcp(p: RtcpPacket): void {
    const now = Date.now();
    if (p instanceof RtcpRrPacket || p instanceof RtcpSrPacket) {
      const r = p.reports.find((x) => x.ssrc === this.sender?.ssrc);
      if (!r) return;
      this.feedback({ packetLoss: r.fractionLost / 256, jitterMs: r.jitter / 90, receivedAt: now });
    } else if (p instanceof RtcpPayloadSpecificFeedback) {
      const fb = p.feedback;
      // werift leaves `feedback` undefined for a PSFB format it does not know (found by `pnpm fuzz`).
      if (!fb) return;
      // PLI (count 1) or FIR (count 4: werift parses it but exports no class for it).
      if (fb instanceof PictureLossIndication || fb.count === FIR_COUNT) {
        this.keyframeRequests++;
        this.o.hub.requestKeyframe(this.o.hubStream);
      } else if (fb instanceof ReceiverEstimatedMaxBitrate) {
        this.feedback({ availableBandwidth: Number(fb.bitrate), receivedAt: now });
      }
    }
  }

  private feedback(f: Omit<NetworkFeedback, 'stream' | 'clientId' | 'transport'>): void {
    // Only a viewer that receives the stream (connected, subscribed to the hub) reports on it.
    if (!this.consumer || this.closed) return;
    // RR and REMB arrive separately: publish the newest of each so ABR sees the whole picture.
    const prev = this.lastFeedback && f.receivedAt - this.lastFeedback.receivedAt < HISTORY_MS ? this.lastFeedback : undefined;
    this.lastFeedback = { ...prev, ...f };
    this.o.onFeedback({ stream: this.o.stream, clientId: this.id, transport: 'webrtc', ...this.lastFeedback });
  }

  private timer(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }
}
