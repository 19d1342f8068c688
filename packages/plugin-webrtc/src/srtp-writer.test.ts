import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift';
import { oneByteExtensions, SrtpRtpWriter } from './srtp-writer.js';
import { srtpKeysOf } from './fast-path.js';

/** A sender's and a receiver's SRTP sessions of one DTLS-SRTP key exchange (werift's, the reference). */
function sessions(profile: 1 | 7) {
  const [k1, s1, k2, s2] = [randomBytes(16), randomBytes(profile === 7 ? 12 : 14), randomBytes(16), randomBytes(profile === 7 ? 12 : 14)];
  const sender = new SrtpSession({ keys: { localMasterKey: k1, localMasterSalt: s1, remoteMasterKey: k2, remoteMasterSalt: s2 }, profile });
  const receiver = new SrtpSession({ keys: { localMasterKey: k2, localMasterSalt: s2, remoteMasterKey: k1, remoteMasterSalt: s1 }, profile });
  return { sender, receiver };
}

/** A shared packet as camd's packetiser writes it: 12-byte header, PT 96, its own SSRC and sequence. */
function shared(marker: boolean, timestamp: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | 96;
  b.writeUInt16BE(4242, 2);
  b.writeUInt32BE(timestamp, 4);
  b.writeUInt32BE(0xdeadbeef, 8);
  payload.copy(b, 12);
  return b;
}

describe('SRTP writer: the same bytes as werift, without its per-packet machinery', () => {
  for (const [name, profile] of [
    ['AEAD_AES_128_GCM', ProtectionProfileAeadAes128Gcm],
    ['AES128_CM_HMAC_SHA1_80', ProtectionProfileAes128CmHmacSha1_80],
  ] as const) {
    it(`${name}: werift's receiver decrypts and authenticates every packet, across a sequence wrap`, () => {
      const { sender, receiver } = sessions(profile);
      const keys = srtpKeysOf({ srtp: sender });
      expect(keys?.profile).toBe(profile === 7 ? 'aes-128-gcm' : 'aes-128-cm-sha1-80');
      const w = new SrtpRtpWriter(keys!, 0x11223344, 102);
      const ext = oneByteExtensions([
        { id: 3, payload: Buffer.from([1, 2, 3]) },
        { id: 9, payload: Buffer.from([0x00, 0x60, 0x06]) },
      ]);
      for (const seq of [65533, 65534, 65535, 0, 1, 65535 /* a retransmission from before the wrap */, 2]) {
        const payload = randomBytes(1 + (seq % 1100));
        const datagram = Buffer.concat(w.protect(shared(seq === 1, 90_000 + seq, payload), seq, ext));
        const rtp = RtpPacket.deSerialize(receiver.decrypt(datagram));
        expect(rtp.header).toMatchObject({ sequenceNumber: seq, ssrc: 0x11223344, payloadType: 102, marker: seq === 1, timestamp: 90_000 + seq });
        expect(rtp.header.extensions).toEqual([
          { id: 3, payload: Buffer.from([1, 2, 3]) },
          { id: 9, payload: Buffer.from([0x00, 0x60, 0x06]) },
        ]);
        expect(rtp.payload).toEqual(payload);
      }
    });
  }

  it('pads the one-byte extension block to 32 bits', () => {
    expect(oneByteExtensions([{ id: 1, payload: Buffer.from([7, 8, 9]) }])).toEqual(Buffer.from([0xbe, 0xde, 0, 1, 0x12, 7, 8, 9]));
    expect(oneByteExtensions([{ id: 2, payload: Buffer.from([1]) }])?.length).toBe(8);
    expect(oneByteExtensions([])).toBeUndefined();
  });
});
