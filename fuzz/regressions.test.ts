/**
 * The inputs `pnpm fuzz` found, kept as plain tests: each failed before its fix (an uncaught TypeError,
 * an impossible payload type, a stack overflow escaping as a RangeError).
 */
import { readFileSync } from 'node:fs';
import { RtcpPacketConverter, type RtcpPacket } from 'werift';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../apps/daemon/src/config-file.js';
import { CamdError, type CodecParameters, ErrorCodes } from '../packages/core/src/index.js';
import { prepareOffer } from '../packages/plugin-webrtc/src/offer.js';
import { Viewer } from '../packages/plugin-webrtc/src/viewer.js';

const BASELINE: CodecParameters = { codec: 'h264', profileLevelId: '42e01f', width: 320, height: 240, fps: 0 };

describe('inputs found by pnpm fuzz', () => {
  it('Viewer.onRtcp ignores payload-specific feedback of a format werift does not know (PSFB FMT 5)', () => {
    const packets = RtcpPacketConverter.deSerialize(Buffer.from('85ce00021234abcd1234abcd', 'hex'));
    expect(packets).toHaveLength(1);
    const keyframes: string[] = [];
    const v = new Viewer({
      stream: 'stream1',
      hub: { requestKeyframe: (s: string) => void keyframes.push(s) },
      onFeedback: () => undefined,
    } as unknown as ConstructorParameters<typeof Viewer>[0]);
    (v as unknown as { sender: { ssrc: number } }).sender = { ssrc: 0x1234abcd };
    expect(() => (v as unknown as { onRtcp(p: RtcpPacket): void }).onRtcp(packets[0]!)).not.toThrow();
    expect(keyframes).toEqual([]);
  });

  it('an offer whose only H.264 format has payload type 999999 is refused, not answered with it', () => {
    const sdp = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=ice-ufrag:abcd',
      'a=ice-pwd:0123456789abcdefghijkl',
      'a=fingerprint:sha-256 AB:CD',
      'm=video 9 UDP/TLS/RTP/SAVPF 999999',
      'a=recvonly',
      'a=rtpmap:999999 H264/90000',
      'a=fmtp:999999 packetization-mode=1;profile-level-id=42e01f',
      '',
    ].join('\r\n');
    expect(() => prepareOffer(sdp, BASELINE)).toThrow(expect.objectContaining({ code: 'CAMD_ERR_WEBRTC_CODEC' }));
    // With a valid format beside it, that one is chosen.
    const both = sdp.replace('SAVPF 999999', 'SAVPF 999999 102') + 'a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n';
    expect(prepareOffer(both, BASELINE).payloadType).toBe(102);
  });

  it('an rtpmap whose payload type the m= line does not list (014 for 114) is not chosen', () => {
    // As found: H.265 (profile-id absent = Main, the stream's), its rtpmap mangled to 014.
    const sdp = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=ice-ufrag:abcd',
      'a=ice-pwd:0123456789abcdefghijkl',
      'a=fingerprint:sha-256 AB:CD',
      'm=video 9 UDP/TLS/RTP/SAVPF 114',
      'a=recvonly',
      'a=rtpmap:014 H265/90000',
      '',
    ].join('\r\n');
    const h265: CodecParameters = { codec: 'h265', h265: { profileSpace: 0, tierFlag: 0, profileId: 1, levelId: 93 }, width: 320, height: 240, fps: 0 };
    expect(() => prepareOffer(sdp, h265)).toThrow(expect.objectContaining({ code: 'CAMD_ERR_WEBRTC_CODEC' }));
  });

  it("a YAML config that overflows the yaml parser's stack is a config error, not a RangeError", () => {
    // The generated file as found (a `s: ` run of ~1,250 nested compact mappings among other keys):
    // the yaml package's parser recursed out of stack inside parseDocument.
    const text = readFileSync(new URL('./found/yaml-stack-overflow.yaml', import.meta.url), 'utf8');
    let err: unknown;
    try {
      parseConfigText('camd.yaml', text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CamdError);
    expect((err as CamdError).code).toBe(ErrorCodes.CONFIG);
  });
});
