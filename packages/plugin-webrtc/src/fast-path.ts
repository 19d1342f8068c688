import type { Socket } from 'node:dgram';
import { oneByteExtensions, SrtpRtpWriter, type SrtpKeys } from './srtp-writer.js';

/**
 * What camd's own packet path needs of a werift (0.24.4) connection once DTLS is up: the sending SRTP
 * session keys and the UDP socket and address of the nominated ICE pair. werift does not export these
 * as API, so they are read defensively: any shape this does not recognise (another werift version,
 * a TCP or TURN pair) returns undefined and the viewer keeps werift's own `sendRtp`.
 */

/** werift's SRTP profile numbers (`ProtectionProfile…`, RFC 5764 §4.1.2). */
const AES_128_CM_HMAC_SHA1_80 = 1;
const AEAD_AES_128_GCM = 7;

interface WeriftSrtpLike {
  srtp?: {
    localContext?: {
      profile?: number;
      cipher?: { srtpSessionKey?: unknown; srtpSessionSalt?: unknown; srtpSessionAuthTag?: unknown };
    };
  };
}

/** The session keys werift derived for sending (`dtlsTransport.srtp.localContext`), or undefined. */
export function srtpKeysOf(dtlsTransport: unknown): SrtpKeys | undefined {
  const ctx = (dtlsTransport as WeriftSrtpLike | undefined)?.srtp?.localContext;
  const c = ctx?.cipher;
  if (!c || !Buffer.isBuffer(c.srtpSessionKey) || !Buffer.isBuffer(c.srtpSessionSalt)) return undefined;
  // werift derives 14 salt bytes for GCM too; RFC 7714's IV uses the first 12.
  if (ctx.profile === AEAD_AES_128_GCM && c.srtpSessionKey.length === 16 && c.srtpSessionSalt.length >= 12) {
    return { profile: 'aes-128-gcm', key: c.srtpSessionKey, salt: c.srtpSessionSalt.subarray(0, 12) };
  }
  if (ctx.profile === AES_128_CM_HMAC_SHA1_80 && c.srtpSessionKey.length === 16 && c.srtpSessionSalt.length === 14 && Buffer.isBuffer(c.srtpSessionAuthTag)) {
    return { profile: 'aes-128-cm-sha1-80', key: c.srtpSessionKey, salt: c.srtpSessionSalt, authKey: c.srtpSessionAuthTag };
  }
  return undefined;
}

const guarded = new WeakSet<Socket>();
const noop = () => undefined;

export interface UdpPath {
  readonly socket: Socket;
  readonly address: string;
  readonly port: number;
}

interface WeriftIceLike {
  iceTransport?: {
    connection?: {
      nominated?: { protocol?: { type?: string; transport?: { socket?: Socket; closed?: boolean } }; remoteAddr?: [string, number] };
    };
  };
}

/** The nominated pair's UDP socket and remote address (`dtlsTransport.iceTransport.connection.nominated`), or undefined. */
export function udpPathOf(dtlsTransport: unknown): UdpPath | undefined {
  const pair = (dtlsTransport as WeriftIceLike | undefined)?.iceTransport?.connection?.nominated;
  const transport = pair?.protocol?.transport;
  const socket = transport?.socket;
  const remote = pair?.remoteAddr;
  if (!socket || transport.closed || typeof socket.send !== 'function' || !remote || typeof remote[0] !== 'string' || typeof remote[1] !== 'number')
    return undefined;
  // werift's socket has no 'error' listener: a failed send without a callback would be an uncaught
  // exception. A UDP send error (ENOBUFS) loses that packet, as the network may: NACK resends it.
  if (!guarded.has(socket)) {
    guarded.add(socket);
    socket.on('error', noop);
  }
  return { socket, address: remote[0], port: remote[1] };
}

/** werift's sender fields its sender reports are made of (RTCRtpSender, 0.24.4), kept current by the fast path. */
interface SenderReportFields {
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  runRtcp?: () => Promise<void>;
}

const HISTORY = 128;
/** Seconds from 1900 (NTP's epoch) to 1970. */
const NTP_EPOCH_OFFSET_S = 2_208_988_800;

/**
 * One viewer's packets on camd's own path: each shared packet is rewritten and protected by
 * `SrtpRtpWriter` and handed to the nominated pair's UDP socket in one synchronous call. werift keeps
 * ICE, DTLS, RTCP: its sender reports are fed the counts and timestamps it would have kept, and NACKed
 * packets are resent from this path's own 128-packet history (werift's cache stays empty).
 */
export class FastRtpPath {
  private readonly historySeq = new Int32Array(HISTORY).fill(-1);
  private readonly historyPacket: Array<Buffer | undefined> = new Array(HISTORY);
  private path?: UdpPath;
  private extensions?: Buffer;
  /** The playout-delay element `extensions` was built with (its payload is cached by the viewer while unchanged). */
  private builtFor?: { id?: number; payload?: Buffer };
  /** Offset of abs-send-time's 3 bytes in `extensions`, when the peer negotiated it. */
  private absSendTimeAt = -1;

  private constructor(
    private readonly writer: SrtpRtpWriter,
    private readonly dtlsTransport: unknown,
    private readonly report: SenderReportFields,
    private readonly absSendTimeId: number | undefined,
  ) {}

  /** The fast path for a connected werift sender, or undefined when werift's internals are not as expected. */
  static start(sender: { ssrc: number; codec?: { payloadType: number }; dtlsTransport: unknown }, absSendTimeId: number | undefined): FastRtpPath | undefined {
    const keys = srtpKeysOf(sender.dtlsTransport);
    const report = sender as unknown as SenderReportFields;
    if (!keys || !sender.codec || !udpPathOf(sender.dtlsTransport) || typeof report.packetCount !== 'number' || typeof report.ntpTimestamp !== 'bigint')
      return undefined;
    const path = new FastRtpPath(new SrtpRtpWriter(keys, sender.ssrc, sender.codec.payloadType), sender.dtlsTransport, report, absSendTimeId);
    // werift starts its sender-report loop with the first sendRtp, which this path never calls.
    void report.runRtcp?.call(sender).catch(noop);
    return path;
  }

  /** At the first packet of each frame: the socket (the nominated pair), and the sender report's NTP/RTP pair (capture time). */
  frame(captureTimeMs: number, rtpTimestamp: number): void {
    this.path = udpPathOf(this.dtlsTransport);
    const s = captureTimeMs / 1000 + NTP_EPOCH_OFFSET_S;
    const whole = Math.floor(s);
    this.report.ntpTimestamp = (BigInt(whole) << 32n) | BigInt(Math.floor((s - whole) * 4294967296));
    this.report.rtpTimestamp = rtpTimestamp;
  }

  /** Sends `shared` as `seq`; returns the bytes sent (0 when the socket is gone). */
  send(shared: Buffer, seq: number, playoutDelay?: { id: number; payload: Buffer }): number {
    this.historySeq[seq % HISTORY] = seq;
    this.historyPacket[seq % HISTORY] = shared;
    this.report.packetCount = (this.report.packetCount + 1) >>> 0;
    this.report.octetCount = (this.report.octetCount + shared.length - 12) >>> 0;
    return this.write(shared, seq, playoutDelay);
  }

  /** Resends NACKed sequence numbers still in the history; returns how many were. */
  resend(lost: readonly number[], playoutDelay?: { id: number; payload: Buffer }): number {
    let n = 0;
    for (const seq of lost) {
      const packet = this.historySeq[seq % HISTORY] === seq ? this.historyPacket[seq % HISTORY] : undefined;
      if (packet && this.write(packet, seq, playoutDelay) > 0) n++;
    }
    return n;
  }

  private write(shared: Buffer, seq: number, playoutDelay?: { id: number; payload: Buffer }): number {
    const path = this.path;
    if (!path) return 0;
    const ext = this.extensionsFor(playoutDelay);
    if (this.absSendTimeAt >= 0) {
      // abs-send-time: 6.18 fixed-point seconds, 24 bits (per packet: receivers' bandwidth estimates use it).
      const t = Math.floor(((performance.timeOrigin + performance.now()) / 1000) * 262144) & 0xffffff;
      ext![this.absSendTimeAt] = t >>> 16;
      ext![this.absSendTimeAt + 1] = (t >>> 8) & 0xff;
      ext![this.absSendTimeAt + 2] = t & 0xff;
    }
    const datagram = this.writer.protect(shared, seq, ext);
    try {
      // No callback (a callback is a JavaScript call per packet when libuv completes the send); a
      // failed send is then an 'error' event, which `udpPathOf` made sure has a listener.
      path.socket.send(datagram, path.port, path.address);
    } catch {
      // The socket closed under us (the peer is closing): nothing to send to.
      this.path = undefined;
      return 0;
    }
    return datagram[0]!.length + datagram[1]!.length + datagram[2]!.length;
  }

  /** The extension block (abs-send-time, playout-delay), rebuilt only when the playout delay changes. */
  private extensionsFor(playoutDelay?: { id: number; payload: Buffer }): Buffer | undefined {
    const built = this.builtFor;
    if (built && built.id === playoutDelay?.id && built.payload === playoutDelay?.payload) return this.extensions;
    const elements: { id: number; payload: Buffer }[] = [];
    if (this.absSendTimeId !== undefined) elements.push({ id: this.absSendTimeId, payload: Buffer.alloc(3) });
    if (playoutDelay) elements.push(playoutDelay);
    this.extensions = oneByteExtensions(elements);
    this.absSendTimeAt = this.absSendTimeId !== undefined ? 5 : -1;
    this.builtFor = { id: playoutDelay?.id, payload: playoutDelay?.payload };
    return this.extensions;
  }
}
