import { describe, expect, it } from 'vitest';
import { isCamdError } from '@camd/core';
import { parseOfferJson, prepareOffer } from './offer.js';

// The video section of a Chromium offer (trimmed): baseline, constrained baseline, main and high, each with RTX.
const CHROMIUM_OFFER =
  [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 106 107 112 113',
    'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    'a=setup:actpass',
    'a=mid:0',
    'a=recvonly',
    'a=rtcp-mux',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 nack',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000',
    'a=rtcp-fb:102 nack pli',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
    'a=rtpmap:103 rtx/90000',
    'a=fmtp:103 apt=102',
    'a=rtpmap:106 H264/90000',
    'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=640c1f',
    'a=rtpmap:107 H264/90000',
    'a=fmtp:107 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f',
    'a=rtpmap:112 H264/90000',
    'a=rtcp-fb:112 goog-remb',
    'a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f',
    'a=rtpmap:113 rtx/90000',
    'a=fmtp:113 apt=112',
  ].join('\r\n') + '\r\n';

describe('offer checks', () => {
  it('keeps only the H.264 format of the stream profile, with packetization-mode=1', () => {
    const high = prepareOffer(CHROMIUM_OFFER, 'high');
    expect(high.payloadType).toBe(112);
    expect(high.sdp).toMatch(/^m=video 9 UDP\/TLS\/RTP\/SAVPF 112\r$/m);
    expect(high.sdp).not.toMatch(/a=rtpmap:(96|97|102|106|107|113) /);
    expect(high.sdp).toContain('a=rtcp-fb:112 goog-remb');
    expect(prepareOffer(CHROMIUM_OFFER, 'main').payloadType).toBe(107);
    expect(prepareOffer(CHROMIUM_OFFER, 'baseline').payloadType).toBe(102);
  });

  it('falls back to any packetization-mode=1 H.264 when the profile is not offered', () => {
    const noHigh = CHROMIUM_OFFER.replace(/profile-level-id=640c1f/g, 'profile-level-id=f40c1f');
    expect(prepareOffer(noHigh, 'high').payloadType).toBe(102);
  });

  it('names what is wrong', () => {
    const error = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isCamdError(e) ? [e.statusCode, e.code, e.message] : e;
      }
      return 'no error';
    };
    expect(error(() => parseOfferJson('{'))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_OFFER', expect.stringMatching(/not JSON/)]);
    expect(error(() => parseOfferJson({ type: 'offer' }))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_OFFER', '"sdp" must be a string']);
    expect(error(() => prepareOffer('v=0\r\nhello\r\n', 'high'))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_SDP', 'malformed SDP line: "hello"']);
    expect(error(() => prepareOffer(CHROMIUM_OFFER.replace('a=recvonly', 'a=sendonly'), 'high'))).toEqual([
      400,
      'CAMD_ERR_WEBRTC_NO_VIDEO',
      expect.stringMatching(/sendonly/),
    ]);
    expect(error(() => prepareOffer(CHROMIUM_OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0'), 'high'))).toEqual([
      422,
      'CAMD_ERR_WEBRTC_CODEC',
      expect.stringMatching(/packetization-mode=1/),
    ]);
    expect(error(() => prepareOffer(CHROMIUM_OFFER.replace(/a=ice-pwd:.*\r\n/, ''), 'high'))).toEqual([
      400,
      'CAMD_ERR_WEBRTC_BAD_SDP',
      expect.stringMatching(/ice-pwd/),
    ]);
    expect(error(() => prepareOffer('v=0\r\n' + 'a=x\r\n'.repeat(20_000), 'high'))).toEqual([413, 'CAMD_ERR_WEBRTC_BAD_OFFER', expect.any(String)]);
  });
});
