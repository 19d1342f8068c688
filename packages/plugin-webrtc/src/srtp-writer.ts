import { createCipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** The SRTP session keys of one direction, as DTLS-SRTP derived them (RFC 3711 §4.3, RFC 7714 §12). */
export type SrtpKeys =
  /** SRTP_AEAD_AES_128_GCM (RFC 7714): what Chromium, Firefox and werift prefer. */
  | { profile: 'aes-128-gcm'; key: Buffer; salt: Buffer }
  /** SRTP_AES128_CM_HMAC_SHA1_80 (RFC 3711). */
  | { profile: 'aes-128-cm-sha1-80'; key: Buffer; salt: Buffer; authKey: Buffer };

export const RTP_HEADER_BYTES = 12;
const GCM_TAG_BYTES = 16;
const CM_TAG_BYTES = 10;

/**
 * Writes one viewer's SRTP packets from the stream's shared RTP packets: the shared packet's
 * timestamp, marker and payload with this viewer's sequence number, SSRC, payload type and header
 * extensions, encrypted and authenticated for its DTLS-SRTP session. One call per packet, no promise,
 * no parsing: the header is written into a fresh 12-28 byte buffer and the payload is encrypted
 * straight from the shared packet, so a datagram is three buffers handed to `sendmsg` together.
 *
 * (werift's own `sendRtp` parses each packet, builds header objects, formats an NTP time through a
 * string, awaits three promises and concatenates the datagram: measured at 25 viewers, most of the
 * daemon's time per packet; see bench/webrtc-anchor.ts.)
 */
export class SrtpRtpWriter {
  private readonly key: KeyObject;
  private readonly iv: Buffer;
  private roc = 0;
  private highestSeq = -1;
  private readonly rocBytes = Buffer.alloc(4);

  constructor(
    private readonly keys: SrtpKeys,
    readonly ssrc: number,
    readonly payloadType: number,
  ) {
    this.key = createSecretKey(keys.key);
    this.iv = Buffer.alloc(keys.profile === 'aes-128-gcm' ? 12 : 16);
  }

  /**
   * The datagram for `shared` (a 12-byte-header RTP packet of the stream) sent as `seq`, with the
   * one-byte header extensions in `extensions` (RFC 8285, already padded to 32 bits, or empty).
   */
  protect(shared: Buffer, seq: number, extensions?: Buffer): Buffer[] {
    const extLen = extensions ? extensions.length : 0;
    const header = Buffer.allocUnsafe(RTP_HEADER_BYTES + extLen);
    header[0] = 0x80 | (extLen > 0 ? 0x10 : 0);
    header[1] = (shared[1]! & 0x80) | (this.payloadType & 0x7f);
    header.writeUInt16BE(seq, 2);
    // Timestamp as shared (bytes 4-7), then this viewer's SSRC.
    header[4] = shared[4]!;
    header[5] = shared[5]!;
    header[6] = shared[6]!;
    header[7] = shared[7]!;
    header.writeUInt32BE(this.ssrc, 8);
    if (extensions) extensions.copy(header, RTP_HEADER_BYTES);
    const payload = shared.subarray(RTP_HEADER_BYTES);
    const roc = this.rolloverFor(seq);
    if (this.keys.profile === 'aes-128-gcm') {
      // RFC 7714 §8.1: IV = salt XOR (0x0000 || SSRC || ROC || SEQ).
      const iv = this.iv;
      iv.fill(0, 0, 2);
      iv.writeUInt32BE(this.ssrc, 2);
      iv.writeUInt32BE(roc, 6);
      iv.writeUInt16BE(seq, 10);
      for (let i = 0; i < 12; i++) iv[i]! ^= this.keys.salt[i]!;
      const cipher = createCipheriv('aes-128-gcm', this.key, iv, { authTagLength: GCM_TAG_BYTES });
      cipher.setAAD(header);
      const enc = cipher.update(payload);
      cipher.final();
      return [header, enc, cipher.getAuthTag()];
    }
    // RFC 3711 §4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), index = ROC << 16 | SEQ.
    const iv = this.iv;
    this.keys.salt.copy(iv, 0, 0, 14);
    iv[14] = 0;
    iv[15] = 0;
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ this.ssrc) >>> 0, 4);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ roc) >>> 0, 8);
    iv.writeUInt16BE(iv.readUInt16BE(12) ^ seq, 12);
    const enc = createCipheriv('aes-128-ctr', this.key, iv).update(payload);
    this.rocBytes.writeUInt32BE(roc, 0);
    const tag = createHmac('sha1', this.keys.authKey).update(header).update(enc).update(this.rocBytes).digest().subarray(0, CM_TAG_BYTES);
    return [header, enc, tag];
  }

  /** The rollover counter of `seq` (RFC 3711 §3.3.1): new packets advance it at a wrap; a retransmission may belong to the previous one. */
  private rolloverFor(seq: number): number {
    if (this.highestSeq < 0) {
      this.highestSeq = seq;
      return this.roc;
    }
    if (seq > this.highestSeq) {
      if (seq - this.highestSeq > 0x8000) return Math.max(0, this.roc - 1); // late, from before the last wrap
      this.highestSeq = seq;
      return this.roc;
    }
    if (this.highestSeq - seq > 0x8000) {
      this.roc = (this.roc + 1) >>> 0;
      this.highestSeq = seq;
    }
    return this.roc;
  }
}

/** One-byte-header extensions (RFC 8285) of `elements` (id 1-14, 1-16 bytes each), padded to 32 bits; undefined when empty. */
export function oneByteExtensions(elements: ReadonlyArray<{ id: number; payload: Buffer }>): Buffer | undefined {
  if (elements.length === 0) return undefined;
  const body = elements.reduce((n, e) => n + 1 + e.payload.length, 0);
  const words = Math.ceil(body / 4);
  const out = Buffer.alloc(4 + words * 4);
  out.writeUInt16BE(0xbede, 0);
  out.writeUInt16BE(words, 2);
  let o = 4;
  for (const e of elements) {
    out[o++] = (e.id << 4) | (e.payload.length - 1);
    o += e.payload.copy(out, o);
  }
  return out;
}
