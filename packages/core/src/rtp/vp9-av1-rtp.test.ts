import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAv1Keyframe, OBU, parseAv1SequenceHeader, splitObus } from '../media/av1.js';
import { parseParameterSets } from '../media/codec.js';
import type { EncodedFrame } from '../media/types.js';
import { encodedTestFrames } from '../testing/encoded-frames.js';
import { Av1Packetizer, depacketizeAv1 } from './av1-rtp.js';
import { RTP_HEADER } from './h264-rtp.js';
import { depacketizeVp9, Vp9Packetizer } from './vp9-rtp.js';

// Real frames of camd's derived encoders (vp9enc, av1enc as the daemon runs them), 160x120, a key frame every 10.
const vp9 = encodedTestFrames('vp9');
const av1 = encodedTestFrames('av1');
const dir = mkdtempSync(join(tmpdir(), 'camd-vp9-av1-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const marker = (p: Buffer) => (p[1]! & 0x80) !== 0;
const payload = (p: Buffer) => p.subarray(RTP_HEADER);

/** How many pictures GStreamer decodes from a file, and which sizes (each written as packed RGB: 3 bytes a pixel). */
function decode(file: string, chain: string, width: number, height: number): { frames: number; sizes: number[] } {
  const out = mkdtempSync(join(dir, 'decoded-'));
  const sink = `videoconvert ! video/x-raw,format=RGB,width=${width},height=${height} ! multifilesink location=${join(out, '%04d')}`;
  execFileSync('gst-launch-1.0', ['-q', ...`filesrc location=${file} ! ${chain} ! ${sink}`.split(' ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const files = readdirSync(out);
  return { frames: files.length, sizes: [...new Set(files.map((f) => statSync(join(out, f)).size))] };
}

/** RFC 4571 framing (a 16-bit length before each packet), what rtpstreamdepay reads. */
const rfc4571 = (packets: Buffer[]) => Buffer.concat(packets.flatMap((p) => [Buffer.from([p.length >> 8, p.length & 0xff]), p]));

describe('VP9 (RFC 9628)', () => {
  it('reads key frames and their size and profile from vp9enc output', () => {
    expect(vp9.map((f) => f.keyframe)).toEqual(vp9.map((_, i) => i % 10 === 0));
    expect(parseParameterSets(vp9[0]!)).toEqual({ codec: 'vp9', width: 160, height: 120, fps: 0, vp9Profile: 0 });
    expect(parseParameterSets(vp9[1]!)).toBeUndefined();
  });

  it('packetises a key frame under the MTU: PictureID on each packet, B on the first with the picture size (SS), E and the marker on the last, P clear', () => {
    const p = new Vp9Packetizer({ payloadType: 98, ssrc: 5, mtu: 300 });
    const key = vp9[0]!;
    const packets = p.packetize(key);
    expect(packets.length).toBeGreaterThan(2);
    const d = packets.map((x) => payload(x)[0]!);
    for (const [i, pkt] of packets.entries()) {
      expect(pkt.length).toBeLessThanOrEqual(300);
      expect(marker(pkt)).toBe(i === packets.length - 1);
      expect(d[i]! & 0xf0).toBe(0x80); // I set; P, L, F clear
      expect(Boolean(d[i]! & 0x08)).toBe(i === 0); // B
      expect(Boolean(d[i]! & 0x04)).toBe(i === packets.length - 1); // E
      expect(Boolean(d[i]! & 0x02)).toBe(i === 0); // V
      expect(payload(pkt)[1]! & 0x80).toBe(0x80); // M: 15-bit PictureID
    }
    // SS: one spatial layer (N_S 0), Y: its size; no picture group.
    expect([...payload(packets[0]!).subarray(3, 8)]).toEqual([0x10, 0, 160, 0, 120]);
    expect(depacketizeVp9(packets).equals(key.data)).toBe(true);
    // An inter frame: P set, no SS, the next PictureID.
    const next = p.packetize(vp9[1]!);
    const pid = (x: Buffer) => payload(x).readUInt16BE(1) & 0x7fff;
    expect(payload(next[0]!)[0]! & 0x42).toBe(0x40);
    expect(pid(next[0]!)).toBe((pid(packets[0]!) + 1) & 0x7fff);
    expect(depacketizeVp9(next).equals(vp9[1]!.data)).toBe(true);
  });

  it("GStreamer's rtpvp9depay and vp9dec decode every frame of camd's packets", () => {
    const p = new Vp9Packetizer({ payloadType: 96, ssrc: 5, mtu: 400 });
    const file = join(dir, 'vp9.rtp');
    writeFileSync(file, rfc4571(vp9.flatMap((f) => p.packetize(f))));
    const caps = 'application/x-rtp-stream,media=video,clock-rate=90000,encoding-name=VP9,payload=96';
    // A caps filter of 160x120 after the decoder: a picture of another size would fail negotiation.
    expect(decode(file, `${caps} ! rtpstreamdepay ! rtpvp9depay ! vp9dec`, 160, 120)).toEqual({ frames: vp9.length, sizes: [160 * 120 * 3] });
  });
});

describe('AV1 (AOMedia RTP payload format)', () => {
  it('reads av1enc temporal units: a temporal delimiter each, a sequence header and a key frame every 10, size and profile', () => {
    expect(av1.every((f) => splitObus(f.data)[0]?.type === OBU.TEMPORAL_DELIMITER)).toBe(true);
    expect(av1.map((f) => f.keyframe)).toEqual(av1.map((_, i) => i % 10 === 0));
    expect(isAv1Keyframe(av1[1]!.data)).toBe(false);
    const seq = splitObus(av1[0]!.data).find((o) => o.type === OBU.SEQUENCE_HEADER)!;
    expect(parseAv1SequenceHeader(seq.payload)).toMatchObject({ profile: 0, maxWidth: 160, maxHeight: 120 });
    expect(parseParameterSets(av1[0]!)).toMatchObject({ codec: 'av1', width: 160, height: 120, av1: { profile: 0 } });
  });

  it('packetises a temporal unit: no temporal delimiter, no OBU size fields, at most three elements a packet (W counts them), fragments marked Y then Z, N on a key frame', () => {
    const p = new Av1Packetizer({ payloadType: 96, ssrc: 5, mtu: 200 });
    const packets = p.packetize(av1[0]!);
    expect(packets.length).toBeGreaterThan(2);
    const agg = packets.map((x) => payload(x)[0]!);
    expect(agg[0]! & 0x08).toBe(0x08); // N
    for (const [i, pkt] of packets.entries()) {
      expect(pkt.length).toBeLessThanOrEqual(200);
      expect(marker(pkt)).toBe(i === packets.length - 1);
      const w = (agg[i]! >> 4) & 3;
      expect(w).toBeGreaterThanOrEqual(1);
      if (i > 0) expect(Boolean(agg[i]! & 0x80)).toBe(Boolean(agg[i - 1]! & 0x40)); // Z continues a Y
    }
    expect(agg[packets.length - 1]! & 0x40).toBe(0); // the last packet ends its OBU
    // The first element is the sequence header, without its size field.
    const first = payload(packets[0]!);
    const w0 = (first[0]! >> 4) & 3;
    const header = w0 > 1 ? first[2]! : first[1]!;
    expect(header & 0x02).toBe(0);
    expect((header >> 3) & 0x0f).toBe(OBU.SEQUENCE_HEADER);
    // Back to the same OBUs, the temporal delimiter left out.
    const obus = (b: Buffer) => splitObus(b).map((o) => [o.type, o.payload.toString('hex')]);
    expect(obus(depacketizeAv1(packets))).toEqual(obus(av1[0]!.data).slice(1));
    // An inter frame: no N.
    expect(payload(p.packetize(av1[1]!)[0]!)[0]! & 0x08).toBe(0);
  });

  it('aggregates small OBUs three to a packet and splits large ones across packets', () => {
    const obu = (type: number, size: number) => Buffer.concat([Buffer.from([(type << 3) | 0x02, size]), Buffer.alloc(size, type)]);
    const tu: EncodedFrame = { ...av1[1]!, data: Buffer.concat([Buffer.from([0x12, 0]), ...[5, 5, 5, 5].map((t) => obu(t, 20)), obu(6, 120)]) };
    const packets = new Av1Packetizer({ payloadType: 96, ssrc: 5, mtu: 120 }).packetize(tu);
    expect(packets.map((x) => (payload(x)[0]! >> 4) & 3)).toEqual([3, 2, 1]);
    expect(packets.map((x) => payload(x)[0]! & 0xc0)).toEqual([0, 0x40, 0x80]);
    const obus = (b: Buffer) => splitObus(b).map((o) => [o.type, o.payload.length]);
    expect(obus(depacketizeAv1(packets))).toEqual([...[5, 5, 5, 5].map((t) => [t, 20]), [6, 120]]);
  });

  it("GStreamer's av1parse and av1dec (libaom) decode every frame reassembled from camd's packets", () => {
    const p = new Av1Packetizer({ payloadType: 96, ssrc: 5, mtu: 400 });
    const file = join(dir, 'av1.obu');
    // Each temporal unit as a decoder reads it: a temporal delimiter, then the OBUs the packets carried.
    writeFileSync(file, Buffer.concat(av1.flatMap((f) => [Buffer.from([0x12, 0]), depacketizeAv1(p.packetize(f))])));
    expect(decode(file, 'video/x-av1,stream-format=obu-stream ! av1parse ! av1dec', 160, 120)).toEqual({ frames: av1.length, sizes: [160 * 120 * 3] });
  });
});
