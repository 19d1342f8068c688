import type { EncodedFrame } from '../media/types.js';
import { isVp9Keyframe, parseVp9Parameters } from '../media/vp9.js';
import { RtpWriter, RTP_HEADER, type PacketizerOptions, type RtpPacketizer } from './h264-rtp.js';

/** Payload descriptor (RFC 9628 §4.2): I|P|L|F|B|E|V|Z, then M + a 15-bit PictureID. */
const DESCRIPTOR = 3;
/** The scalability structure on a key frame's first packet: N_S|Y|G, one spatial layer's width and height. */
const SS = 5;
const I = 0x80;
const P = 0x40;
const B = 0x08;
const E = 0x04;
const V = 0x02;

/**
 * RFC 9628 packetisation of VP9 frames of one spatial and one temporal layer, in non-flexible mode
 * without layer indices, as libwebrtc and GStreamer's rtpvp9pay send such a stream: every packet
 * carries a 15-bit PictureID counting frames (libwebrtc's receivers then make each frame reference
 * the previous one; a key frame, P clear, references none); B on a frame's first packet, E on its
 * last with the RTP marker; the first packet of a key frame carries the scalability structure with
 * the picture size (V, Y), which receivers use to set up their decoder. Each frame is split into
 * equal pieces under the MTU.
 */
export class Vp9Packetizer implements RtpPacketizer {
  private readonly mtu: number;
  private readonly writer: RtpWriter;
  private pictureId = Math.floor(Math.random() * 0x8000);

  constructor(private readonly opts: PacketizerOptions) {
    this.mtu = opts.mtu ?? 1200;
    if (!(this.mtu > RTP_HEADER + DESCRIPTOR + SS)) throw new RangeError(`Vp9Packetizer: mtu ${this.mtu} is too small`);
    this.writer = opts.writer ?? new RtpWriter(opts.ssrc, opts.initialSequence);
  }

  get payloadType(): number {
    return this.opts.payloadType;
  }

  packetize(frame: EncodedFrame): Buffer[] {
    const data = frame.data;
    const key = isVp9Keyframe(data);
    const size = key ? parseVp9Parameters(frame) : undefined;
    const ss = size ? Buffer.from([0x10, size.width >> 8, size.width & 0xff, size.height >> 8, size.height & 0xff]) : undefined;
    const ssLength = ss?.length ?? 0;
    // Equal pieces of the scalability structure and the frame: the last packet is not a runt.
    const max = this.mtu - RTP_HEADER - DESCRIPTOR;
    const count = Math.max(1, Math.ceil((data.length + ssLength) / max));
    const piece = Math.ceil((data.length + ssLength) / count);
    const pid = this.pictureId;
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    const out: Buffer[] = [];
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      const end = last ? data.length : offset + piece - (i === 0 ? ssLength : 0);
      const d = Buffer.from([I | (key ? 0 : P) | (i === 0 ? B : 0) | (last ? E : 0) | (i === 0 && ss ? V : 0), 0x80 | (pid >> 8), pid & 0xff]);
      const parts = i === 0 && ss ? [d, ss] : [d];
      out.push(this.writer.packet(this.opts.payloadType, frame.rtpTimestamp, last, ...parts, data.subarray(offset, end)));
      offset = end;
    }
    return out;
  }
}

/** Reassembles RFC 9628 packets of one frame (tests, and receivers of camd's own RTP); throws on a descriptor it cannot skip. */
export function depacketizeVp9(packets: Buffer[]): Buffer {
  return Buffer.concat(
    packets.map((p) => {
      const payload = p.subarray(RTP_HEADER + (p[0]! & 0x0f) * 4);
      const d = payload[0]!;
      let o = 1;
      if (d & I) o += payload[o]! & 0x80 ? 2 : 1;
      if (d & 0x20) o += d & 0x10 ? 1 : 2; // L: layer indices (plus TL0PICIDX in non-flexible mode)
      if (d & 0x10 && d & P) {
        // F and P: up to three P_DIFFs, N set on all but the last
        while (payload[o++]! & 0x01);
      }
      if (d & V) {
        const ns = (payload[o]! >> 5) + 1;
        const y = payload[o]! & 0x10;
        const g = payload[o]! & 0x08;
        o += 1 + (y ? 4 * ns : 0);
        if (g) {
          const groups = payload[o++]!;
          for (let i = 0; i < groups; i++) o += 1 + ((payload[o]! >> 2) & 0x03);
        }
      }
      return payload.subarray(o);
    }),
  );
}
