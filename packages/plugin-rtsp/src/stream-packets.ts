import { randomBytes } from 'node:crypto';
import { H264Packetizer, type Consumer, type EncodedFrame, type StreamHub } from '@camd/core';

export const PAYLOAD_TYPE = 96;

/**
 * One packetizer per stream, shared by every RTSP reader: a synchronous hub consumer subscribed before
 * any reader turns each frame into RTP packets once; readers look the packets up by frame. Sequence
 * numbers therefore follow frame order for everyone, whatever each reader drops.
 */
export class StreamPackets {
  readonly ssrc = randomBytes(4).readUInt32BE(0);
  private readonly packetizer = new H264Packetizer({ payloadType: PAYLOAD_TYPE, ssrc: this.ssrc });
  private readonly cache = new WeakMap<EncodedFrame, Buffer[]>();
  private readonly consumer: Consumer;
  /** The newest frame packetised: what sender reports refer to. */
  last?: { rtpTimestamp: number; captureTimeMs: number };

  constructor(hub: StreamHub, stream: string) {
    this.consumer = hub.subscribe(stream, {
      name: 'rtsp packetizer',
      internal: true,
      maxQueue: 1_000_000,
      onFrame: (f) => {
        this.cache.set(f, this.packetizer.packetize(f));
        this.last = { rtpTimestamp: f.rtpTimestamp, captureTimeMs: f.captureTimeMs };
      },
    });
  }

  /** The frame's packets (packetised now if the shared consumer has not seen it, e.g. a cached GOP). */
  packetsOf(frame: EncodedFrame): Buffer[] {
    let p = this.cache.get(frame);
    if (!p) {
      p = this.packetizer.packetize(frame);
      this.cache.set(frame, p);
    }
    return p;
  }

  get nextSequence(): number {
    return this.packetizer.sequence;
  }

  close(): void {
    this.consumer.close();
  }
}
