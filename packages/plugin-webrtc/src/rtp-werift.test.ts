import { describe, expect, it } from 'vitest';
import { AV1RtpPayload, RtpPacket, Vp9RtpPayload } from 'werift';
import { Av1Packetizer, OBU, splitObus, Vp9Packetizer } from '@camd/core';
import { encodedTestFrames } from '@camd/core/testing';

/**
 * camd's VP9 and AV1 packets of real vp9enc/av1enc frames, read by werift's depacketisers (a
 * WebRTC stack nobody here wrote): every field they look at, and the frames they reassemble.
 */
describe('VP9 and AV1 packets as werift reads them', () => {
  it("VP9: werift reads PictureID, start and end of frame, key frames and the SS's picture size, and reassembles each frame", () => {
    const frames = encodedTestFrames('vp9', { width: 320, height: 240, frames: 12 });
    const p = new Vp9Packetizer({ payloadType: 98, ssrc: 1, mtu: 500 });
    let lastPid: number | undefined;
    for (const f of frames) {
      const packets = p.packetize(f).map((b) => RtpPacket.deSerialize(b));
      const payloads = packets.map((x) => Vp9RtpPayload.deSerialize(x.payload));
      expect(payloads.map((x) => [x.bBit, x.eBit])).toEqual(payloads.map((_, i) => [Number(i === 0), Number(i === payloads.length - 1)]));
      expect(payloads[0]!.isKeyframe).toBe(f.keyframe);
      if (f.keyframe) expect([payloads[0]!.width, payloads[0]!.height]).toEqual([[320], [240]]);
      const pid = payloads[0]!.pictureId!;
      expect(payloads.every((x) => x.pictureId === pid)).toBe(true);
      if (lastPid !== undefined) expect(pid).toBe((lastPid + 1) & 0x7fff);
      lastPid = pid;
      expect(Vp9RtpPayload.isDetectedFinalPacketInSequence(packets.at(-1)!.header)).toBe(true);
      expect(Buffer.concat(payloads.map((x) => x.payload)).equals(f.data)).toBe(true);
    }
  });

  it('AV1: werift reads the aggregation headers (N on key frames) and reassembles the OBUs of each temporal unit, the temporal delimiter left out', () => {
    const frames = encodedTestFrames('av1', { width: 320, height: 240, frames: 12 });
    const p = new Av1Packetizer({ payloadType: 99, ssrc: 1, mtu: 500 });
    const obus = (b: Buffer) => splitObus(b).map((o) => [o.type, o.payload.toString('hex')]);
    for (const f of frames) {
      const payloads = p.packetize(f).map((b) => AV1RtpPayload.deSerialize(RtpPacket.deSerialize(b).payload));
      expect(payloads[0]!.isKeyframe).toBe(f.keyframe);
      expect(obus(AV1RtpPayload.getFrame(payloads))).toEqual(obus(f.data).filter(([t]) => t !== OBU.TEMPORAL_DELIMITER));
    }
  });
});
