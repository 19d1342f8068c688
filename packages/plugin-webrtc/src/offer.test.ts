import { describe, expect, it } from 'vitest';
import { isCamdError, type CodecParameters } from '@camd/core';
import { parseOfferJson, prepareOffer } from './offer.js';

// The video section of Debian 12's Chromium 156 offer (trimmed): H.264 baseline, constrained baseline,
// main and high 4:4:4 predictive in both packetization modes, no High, no H.265.
const CHROMIUM_OFFER =
  [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 108 116 41 45',
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
    'a=rtpmap:104 H264/90000',
    'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
    'a=rtpmap:108 H264/90000',
    'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtpmap:116 H264/90000',
    'a=rtcp-fb:116 goog-remb',
    'a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f',
    'a=rtpmap:41 H264/90000',
    'a=fmtp:41 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f',
    'a=rtpmap:45 AV1/90000',
  ].join('\r\n') + '\r\n';

/** Parameters of a stream as the hub reads them from its SPS. */
const h264 = (profileLevelId: string): CodecParameters => ({ codec: 'h264', profileLevelId, width: 320, height: 240, fps: 0 });
const h265: CodecParameters = { codec: 'h265', h265: { profileSpace: 0, tierFlag: 0, profileId: 1, levelId: 60 }, width: 320, height: 240, fps: 0 };
const fmtpOf = (sdp: string, pt: number) => new RegExp(`^a=fmtp:${pt} (.*)\r$`, 'm').exec(sdp)?.[1];

function error(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    return isCamdError(e) ? [e.statusCode, e.code, e.message] : e;
  }
  return 'no error';
}

describe('offer checks: the answer names exactly what the stream sends', () => {
  it("keeps only the offered H.264 format of the stream's profile, with the SPS's profile-level-id (level included)", () => {
    // x264 main: profile_idc 77 with constraint_set1 (4d40), level 3.0
    const main = prepareOffer(CHROMIUM_OFFER, h264('4d401e'));
    expect(main.payloadType).toBe(116);
    expect(main.sdp).toMatch(/^m=video 9 UDP\/TLS\/RTP\/SAVPF 116\r$/m);
    expect(main.sdp).not.toMatch(/a=rtpmap:(96|97|102|103|104|108|41|45) /);
    expect(main.sdp).toContain('a=rtcp-fb:116 goog-remb');
    expect(fmtpOf(main.sdp, 116)).toBe('level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d401e');
    // x264 constrained baseline (42c0): the constrained-baseline format, not plain baseline.
    expect(prepareOffer(CHROMIUM_OFFER, h264('42c01e')).payloadType).toBe(108);
    expect(fmtpOf(prepareOffer(CHROMIUM_OFFER, h264('42c01e')).sdp, 108)).toMatch(/profile-level-id=42c01e$/);
  });

  it("answers a High stream with High 4:4:4 Predictive, whose decoders decode High (Annex A), under the offer's own parameters", () => {
    // Debian Chromium offers no High: its f4001f format covers High (and Constrained High) streams.
    for (const plid of ['640028', '640c2a']) {
      const o = prepareOffer(CHROMIUM_OFFER, h264(plid), 'stream "stream1"');
      expect(o.payloadType).toBe(41);
      expect(o.profileMismatch).toBeUndefined();
      expect(fmtpOf(o.sdp, 41)).toBe('level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f');
    }
    // Main and Constrained Baseline are answered as themselves when offered, before any superset.
    expect(prepareOffer(CHROMIUM_OFFER, h264('4d4028')).payloadType).toBe(116);
    // A High offer is the exact answer, with the stream's level.
    const withHigh = CHROMIUM_OFFER.replace('profile-level-id=f4001f', 'profile-level-id=64001f');
    expect(fmtpOf(prepareOffer(withHigh, h264('640028')).sdp, 41)).toMatch(/profile-level-id=640028$/);
    // High decodes Main and Constrained Baseline; Main decodes Constrained Baseline.
    const only = (...plids: string[]) =>
      CHROMIUM_OFFER.replace(/a=rtpmap:(102|104|108|116|41) H264\/90000\r\n(a=rtcp-fb:\1 [^\r]*\r\n)?a=fmtp:\1 [^\r]*\r\n/g, '')
        .replace(
          'a=rtpmap:45 AV1/90000',
          plids.map((p, i) => `a=rtpmap:${110 + i} H264/90000\r\na=fmtp:${110 + i} packetization-mode=1;profile-level-id=${p}`).join('\r\n'),
        )
        .replace('96 97 102 103 104 108 116 41 45', `96 97 ${plids.map((_, i) => 110 + i).join(' ')}`);
    expect(prepareOffer(only('42e01f', '640033'), h264('4d401f')).payloadType).toBe(111);
    expect(prepareOffer(only('4d0033'), h264('42c01f')).profileMismatch).toBeUndefined();
    // Without level asymmetry, the offered level bounds what is sent: a 3.1 High decoder does not cover a 4.2 stream.
    const low = prepareOffer(only('64001f', '64002a'), h264('64002a'));
    expect([low.payloadType, low.profileMismatch]).toEqual([111, undefined]);
  });

  it('sends a stream no offered profile covers under the closest one, flagged profileMismatch; strictProfile refuses it', () => {
    // A werift receiver offering Constrained Baseline only, for x264's Main stream.
    const cb = prepareOffer(CHROMIUM_OFFER.replace(/profile-level-id=(4d001f|f4001f|42001f)/g, 'profile-level-id=42e01f'), h264('4d401f'), 'stream "stream2"');
    expect(cb.payloadType).toBe(102);
    expect(cb.profileMismatch).toMatch(/^stream "stream2" is H.264 main \(profile-level-id 4d401f\), sent as the offered constrained-baseline format/);
    // A Constrained High decoder is closer to High than Main is; Constrained High does not cover High (B-frames, interlace).
    const safari = CHROMIUM_OFFER.replace('profile-level-id=f4001f', 'profile-level-id=640c1f');
    const ch = prepareOffer(safari, h264('640028'));
    expect([ch.payloadType, typeof ch.profileMismatch]).toEqual([41, 'string']);
    expect(prepareOffer(safari, h264('640c28')).profileMismatch).toBeUndefined();
    expect(error(() => prepareOffer(safari, h264('640028'), 'stream "stream1"', { strictProfile: true }))).toEqual([
      422,
      'CAMD_ERR_WEBRTC_CODEC',
      'stream "stream1" is H.264 high (profile-level-id 640028) and this browser offers H.264 baseline, constrained-baseline, main, constrained-high only, ' +
        'none of which decodes it (option strictProfile): set encoderProfile to one of those or watch another stream',
    ]);
    // strictProfile still answers what Annex A covers.
    expect(prepareOffer(CHROMIUM_OFFER, h264('640028'), 's', { strictProfile: true }).payloadType).toBe(41);
  });

  it('answers H.265 only where the offer carries it, with the SPS profile, tier and level', () => {
    expect(error(() => prepareOffer(CHROMIUM_OFFER, h265, 'stream "stream1"'))).toEqual([
      422,
      'CAMD_ERR_WEBRTC_CODEC',
      'stream "stream1" is H.265 main and this browser\'s offer carries no H.265 main (offered: VP8, H264, AV1): set videoEncoder to h264 for WebRTC, or play it over RTSP',
    ]);
    const safari = CHROMIUM_OFFER.replace('a=rtpmap:45 AV1/90000', 'a=rtpmap:45 H265/90000\r\na=fmtp:45 level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST');
    const o = prepareOffer(safari, h265);
    expect(o.payloadType).toBe(45);
    expect(fmtpOf(o.sdp, 45)).toBe('profile-id=1;tier-flag=0;level-id=60');
  });

  it("answers a derived encoding (VP8) to a client without the stream's codec, when allowed", () => {
    const noH264 = CHROMIUM_OFFER.replace(/a=rtpmap:(102|104|108|116|41) H264\/90000\r\n/g, '');
    const o = prepareOffer(noH264, h264('640028'), 's', { derivedCodecs: ['vp8'] });
    expect([o.payloadType, o.derived]).toEqual([96, 'vp8']);
    expect(o.sdp).toMatch(/^m=video 9 UDP\/TLS\/RTP\/SAVPF 96\r$/m);
    // H.265 and MJPEG streams too; a browser that takes the stream's own codec never gets it.
    expect(prepareOffer(CHROMIUM_OFFER, h265, 's', { derivedCodecs: ['vp8'] }).derived).toBe('vp8');
    expect(prepareOffer(CHROMIUM_OFFER, { codec: 'mjpeg', width: 1, height: 1, fps: 0 }, 's', { derivedCodecs: ['vp8'] }).derived).toBe('vp8');
    expect(prepareOffer(CHROMIUM_OFFER, h264('640028'), 's', { derivedCodecs: ['vp8'] }).derived).toBeUndefined();
    // Not allowed (derivedCodecs: []), or not offered: the 422 names the stream's codec.
    expect(error(() => prepareOffer(noH264, h264('640028'), 's'))).toEqual([422, 'CAMD_ERR_WEBRTC_CODEC', expect.stringMatching(/packetization-mode=1/)]);
  });

  it("answers VP9 profile 0 or AV1 Main to a client offering them, one already running first, then the options' order", () => {
    // A libwebrtc client without H.264 (as @roamhq/wrtc offers): VP8, VP9 in two profiles, AV1 in two.
    const offer =
      CHROMIUM_OFFER.replace(/a=rtpmap:(102|104|108|116|41) H264\/90000\r\n/g, '').replace(
        'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 108 116 41 45',
        'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 100 35 37',
      ) +
      [
        'a=rtpmap:98 VP9/90000',
        'a=fmtp:98 profile-id=2',
        'a=rtpmap:100 VP9/90000',
        'a=fmtp:100 profile-id=0',
        'a=rtpmap:35 AV1/90000',
        'a=fmtp:35 level-idx=5;profile=1;tier=0',
        'a=rtpmap:37 AV1/90000',
        'a=fmtp:37 level-idx=5;profile=0;tier=0',
        '',
      ].join('\r\n');
    const all = ['vp8', 'vp9', 'av1'] as const;
    const choose = (derivedCodecs: readonly ('vp8' | 'vp9' | 'av1')[], runningDerived: readonly ('vp8' | 'vp9' | 'av1')[] = []) => {
      const o = prepareOffer(offer, h264('640028'), 's', { derivedCodecs, runningDerived });
      return [o.derived, o.payloadType, o.fmtp];
    };
    expect(choose(all)).toEqual(['vp8', 96, '']);
    expect(choose(['vp9', 'vp8'])).toEqual(['vp9', 100, 'profile-id=0']); // not 98: profile 2 is 10-bit
    expect(choose(['av1'])).toEqual(['av1', 37, 'level-idx=5;profile=0;tier=0']);
    // One running for the stream wins over the options' order, unless the options leave it out.
    expect(choose(all, ['av1'])[0]).toBe('av1');
    expect(choose(['vp8', 'vp9'], ['av1'])[0]).toBe('vp8');
  });

  it('refuses MJPEG, which WebRTC cannot carry, and points at what can', () => {
    expect(error(() => prepareOffer(CHROMIUM_OFFER, { codec: 'mjpeg', width: 320, height: 240, fps: 0 }, 'stream "s"'))).toEqual([
      422,
      'CAMD_ERR_WEBRTC_CODEC',
      expect.stringMatching(/^stream "s" is MJPEG, which WebRTC cannot carry: use GET \/api\/streams\/<name>\/mjpeg/),
    ]);
  });

  it('names what is wrong', () => {
    expect(error(() => parseOfferJson('{'))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_OFFER', expect.stringMatching(/not JSON/)]);
    expect(error(() => parseOfferJson({ type: 'offer' }))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_OFFER', '"sdp" must be a string']);
    expect(error(() => prepareOffer('v=0\r\nhello\r\n', h264('640028')))).toEqual([400, 'CAMD_ERR_WEBRTC_BAD_SDP', 'malformed SDP line: "hello"']);
    expect(error(() => prepareOffer(CHROMIUM_OFFER.replace('a=recvonly', 'a=sendonly'), h264('640028')))).toEqual([
      400,
      'CAMD_ERR_WEBRTC_NO_VIDEO',
      expect.stringMatching(/sendonly/),
    ]);
    expect(error(() => prepareOffer(CHROMIUM_OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0'), h264('640028')))).toEqual([
      422,
      'CAMD_ERR_WEBRTC_CODEC',
      expect.stringMatching(/packetization-mode=1/),
    ]);
    expect(error(() => prepareOffer(CHROMIUM_OFFER.replace(/a=ice-pwd:.*\r\n/, ''), h264('640028')))).toEqual([
      400,
      'CAMD_ERR_WEBRTC_BAD_SDP',
      expect.stringMatching(/ice-pwd/),
    ]);
    expect(error(() => prepareOffer('v=0\r\n' + 'a=x\r\n'.repeat(20_000), h264('640028')))).toEqual([413, 'CAMD_ERR_WEBRTC_BAD_OFFER', expect.any(String)]);
  });
});
