import type { EncodedFrame } from '../media/types.js';
import { RtpWriter, RTP_HEADER, type PacketizerOptions, type RtpPacketizer } from './h264-rtp.js';

/** VP8 payload descriptor with a 15-bit PictureID (RFC 7741 §4.2): X, S/PID, I, M + 15 bits. */
const DESCRIPTOR = 4;

/**
 * RFC 7741 packetisation of VP8 frames: one frame per packet run, the frame split into equal-sized
 * pieces under the MTU, each with a payload descriptor (start-of-partition bit on the first, partition
 * index 0), a 15-bit PictureID that counts frames (what Chromium's and libwebrtc's receivers use to
 * find a frame's references), and the marker bit on the last packet. One instance per derived stream.
 */
export class Vp8Packetizer implements RtpPacketizer {
  private readonly mtu: number;
  private readonly writer: RtpWriter;
  private pictureId = Math.floor(Math.random() * 0x8000);

  constructor(private readonly opts: PacketizerOptions) {
    this.mtu = opts.mtu ?? 1200;
    if (!(this.mtu > RTP_HEADER + DESCRIPTOR)) throw new RangeError(`Vp8Packetizer: mtu ${this.mtu} is too small`);
    this.writer = opts.writer ?? new RtpWriter(opts.ssrc, opts.initialSequence);
  }

  get payloadType(): number {
    return this.opts.payloadType;
  }

  packetize(frame: EncodedFrame): Buffer[] {
    const data = frame.data;
    const max = this.mtu - RTP_HEADER - DESCRIPTOR;
    // Equal pieces: the last one is not a runt.
    const count = Math.max(1, Math.ceil(data.length / max));
    const size = Math.ceil(data.length / count);
    const pid = this.pictureId;
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const d = Buffer.from([0x80 | (i === 0 ? 0x10 : 0), 0x80, 0x80 | (pid >> 8), pid & 0xff]);
      out.push(
        this.writer.packet(this.opts.payloadType, frame.rtpTimestamp, i === count - 1, d, data.subarray(i * size, Math.min(data.length, (i + 1) * size))),
      );
    }
    return out;
  }
}

/** Reassembles RFC 7741 packets of one frame (tests, and receivers of camd's own RTP). */
export function depacketizeVp8(packets: Buffer[]): Buffer {
  return Buffer.concat(
    packets.map((p) => {
      const payload = p.subarray(RTP_HEADER + (p[0]! & 0x0f) * 4);
      let o = 1;
      if (payload[0]! & 0x80) {
        const x = payload[1]!;
        o = 2;
        if (x & 0x80) o += payload[o]! & 0x80 ? 2 : 1;
        if (x & 0x40) o += 1;
        if (x & 0x30) o += 1;
      }
      return payload.subarray(o);
    }),
  );
}
