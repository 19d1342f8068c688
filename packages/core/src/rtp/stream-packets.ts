import { randomBytes } from 'node:crypto';
import type { Consumer, StreamHub } from '../media/hub.js';
import type { EncodedFrame, FrameCodec } from '../media/types.js';
import { H264Packetizer, RtpWriter, type RtpPacketizer } from './h264-rtp.js';
import { H265Packetizer } from './h265-rtp.js';
import { JPEG_PAYLOAD_TYPE, JpegPacketizer } from './jpeg-rtp.js';
import { Vp8Packetizer } from './vp8-rtp.js';
import { Vp9Packetizer } from './vp9-rtp.js';
import { Av1Packetizer } from './av1-rtp.js';

/** Dynamic payload type of camd's H.264 packets (WebRTC senders rewrite it to the negotiated one). */
export const H264_PAYLOAD_TYPE = 96;
/** Dynamic payload type of camd's H.265 packets (a stream has one codec at a time, so 96 again). */
export const H265_PAYLOAD_TYPE = 96;

/** Dynamic payload type of a derived encoding's packets (VP8, VP9, AV1: WebRTC senders rewrite it to the negotiated one). */
export const VP8_PAYLOAD_TYPE = 96;
export const VP9_PAYLOAD_TYPE = 96;
export const AV1_PAYLOAD_TYPE = 96;

/** The RTP payload type of each codec in camd's SDP: dynamic 96 for H.264 and H.265, static 26 for JPEG. */
export const PAYLOAD_TYPE: Record<FrameCodec, number> = {
  h264: H264_PAYLOAD_TYPE,
  h265: H265_PAYLOAD_TYPE,
  mjpeg: JPEG_PAYLOAD_TYPE,
  vp8: VP8_PAYLOAD_TYPE,
  vp9: VP9_PAYLOAD_TYPE,
  av1: AV1_PAYLOAD_TYPE,
};

/**
 * One packetizer per stream, shared by every reader of every transport: a synchronous hub consumer
 * subscribed before any reader turns each frame into RTP packets once; readers look the packets up by
 * frame. Sequence numbers therefore follow frame order for everyone, whatever each reader drops.
 * Obtain one with `acquireStreamPackets` so RTSP and WebRTC share it.
 */
export class StreamPackets {
  readonly ssrc = randomBytes(4).readUInt32BE(0);
  /** One sequence for every codec the stream carries over time: readers of the old codec are gone by then. */
  private readonly writer = new RtpWriter(this.ssrc);
  private readonly packetizers: Record<FrameCodec, RtpPacketizer> = {
    h264: new H264Packetizer({ payloadType: H264_PAYLOAD_TYPE, ssrc: this.ssrc, writer: this.writer }),
    h265: new H265Packetizer({ payloadType: H265_PAYLOAD_TYPE, ssrc: this.ssrc, writer: this.writer }),
    mjpeg: new JpegPacketizer({ payloadType: JPEG_PAYLOAD_TYPE, ssrc: this.ssrc, writer: this.writer }),
    vp8: new Vp8Packetizer({ payloadType: VP8_PAYLOAD_TYPE, ssrc: this.ssrc, writer: this.writer }),
    vp9: new Vp9Packetizer({ payloadType: VP9_PAYLOAD_TYPE, ssrc: this.ssrc, writer: this.writer }),
    av1: new Av1Packetizer({ payloadType: AV1_PAYLOAD_TYPE, ssrc: this.ssrc, writer: this.writer }),
  };
  private readonly cache = new WeakMap<EncodedFrame, Buffer[]>();
  private readonly consumer: Consumer;
  /** The newest frame packetised: what sender reports refer to. */
  last?: { rtpTimestamp: number; captureTimeMs: number };

  constructor(hub: StreamHub, stream: string) {
    this.consumer = hub.subscribe(stream, {
      name: 'rtp packetizer',
      internal: true,
      maxQueue: 1_000_000,
      onFrame: (f) => {
        this.cache.set(f, this.packetizers[f.codec].packetize(f));
        this.last = { rtpTimestamp: f.rtpTimestamp, captureTimeMs: f.captureTimeMs };
      },
    });
  }

  /** The frame's packets (packetised now if the shared consumer has not seen it, e.g. a cached GOP). */
  packetsOf(frame: EncodedFrame): Buffer[] {
    let p = this.cache.get(frame);
    if (!p) {
      p = this.packetizers[frame.codec].packetize(frame);
      this.cache.set(frame, p);
    }
    return p;
  }

  get nextSequence(): number {
    return this.writer.sequence;
  }

  /** Packets and bytes produced so far (once per stream, not per reader). */
  get produced(): { packets: number; octets: number } {
    return { packets: this.writer.packets, octets: this.writer.octets };
  }

  /** JPEG frames RTP/JPEG could not describe (too large, not baseline), and why the last one was refused. */
  get jpegRefused(): { frames: number; lastError?: string } {
    const j = this.packetizers.mjpeg as JpegPacketizer;
    return { frames: j.refused, lastError: j.lastError };
  }

  close(): void {
    this.consumer.close();
  }
}

/** A reference to a stream's shared packets; `release()` when the transport no longer needs them. */
export interface StreamPacketsLease {
  readonly packets: StreamPackets;
  release(): void;
}

const shared = new WeakMap<StreamHub, Map<string, { packets: StreamPackets; refs: number }>>();

/**
 * The shared packets of `stream` on `hub`, created on first use and closed when the last lease is
 * released. Transports of different plugins (RTSP, WebRTC) therefore packetise each frame once.
 */
export function acquireStreamPackets(hub: StreamHub, stream: string): StreamPacketsLease {
  let byStream = shared.get(hub);
  if (!byStream) shared.set(hub, (byStream = new Map()));
  let entry = byStream.get(stream);
  if (!entry) byStream.set(stream, (entry = { packets: new StreamPackets(hub, stream), refs: 0 }));
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    packets: e.packets,
    release() {
      if (released) return;
      released = true;
      if (--e.refs === 0) {
        e.packets.close();
        if (byStream!.get(stream) === e) byStream!.delete(stream);
      }
    },
  };
}
