import type { EncodedFrame } from '@camd/core';

/** A viewer as the fan-out sees it: it takes packet `index` of `frame`. */
export interface PacketTarget {
  sendPacket(packet: Buffer, frame: EncodedFrame, index: number): void;
}

/**
 * Sends a frame to every viewer of one stream packet by packet: packet 0 to each viewer, then packet
 * 1 to each, and so on, as Janus relays each packet to every viewer as it arrives. Viewer by viewer,
 * a receiver got a whole frame in one burst (a 720p keyframe is ~100 packets, sent in well under a
 * millisecond), which overflowed receive buffers of 208 KiB: ~2 % of packets dropped at 25 viewers.
 * This way each viewer's packets are as far apart as one packet to every other viewer takes,
 * without a timer per viewer or per packet.
 *
 * Viewers (hub consumers, each with its own keyframe wait and drops) hand their frames in as the hub
 * offers them; one microtask per frame then sends the whole batch.
 */
export class FrameFanout {
  private batch: Array<{ target: PacketTarget; frame: EncodedFrame; packets: readonly Buffer[] }> = [];
  private scheduled = false;

  enqueue(target: PacketTarget, frame: EncodedFrame, packets: readonly Buffer[]): void {
    this.batch.push({ target, frame, packets });
    if (this.scheduled) return;
    this.scheduled = true;
    // After the hub's publish loop has offered the frame to every consumer of the stream.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    this.scheduled = false;
    let most = 0;
    for (const e of batch) if (e.packets.length > most) most = e.packets.length;
    for (let i = 0; i < most; i++) {
      for (const e of batch) if (i < e.packets.length) e.target.sendPacket(e.packets[i]!, e.frame, i);
    }
  }
}
