/**
 * SDP offers as the offer endpoint (`{type, sdp}` JSON) and WHEP (raw application/sdp) take them:
 * plugin-webrtc offer.ts. A refusal is a `CamdError` with a `CAMD_ERR_WEBRTC_…` code (answered 4xx).
 */
import fc from 'fast-check';
import { CamdError, type CodecParameters } from '../../packages/core/src/index.js';
import { parseOfferJson, prepareOffer } from '../../packages/plugin-webrtc/src/offer.js';
import { Finding, type FuzzTarget } from '../harness.js';
import { mutated, showBytes, token, type Mutated } from '../mutate.js';

/** Mostly true: most offers carry what a browser's does, so that the checks after the first ones run. */
const likely = fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

const codec = fc.oneof(
  fc.record({
    name: fc.constant('H264'),
    mode: fc.constantFrom('0', '1', '1', '1', undefined),
    profile: fc.constantFrom('42e01f', '42001f', '4d001f', '640032', 'zz', '', undefined),
  }),
  fc.record({ name: fc.constantFrom('H265'), mode: fc.constant(undefined), profile: fc.constant(undefined) }),
  fc.record({ name: fc.constantFrom('VP8', 'VP9', 'AV1', 'rtx', 'red', 'ulpfec'), mode: fc.constant(undefined), profile: fc.constant(undefined) }),
);

const media = fc.record({
  kind: fc.constantFrom('video', 'audio', 'application', 'video', 'video'),
  port: fc.constantFrom('9', '9', '9', '0', '65536'),
  codecs: fc.array(
    fc.tuple(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 96, max: 127 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 35, 128, 999999) }), codec),
    { minLength: 1, maxLength: 4 },
  ),
  direction: fc.constantFrom('recvonly', 'recvonly', 'recvonly', 'sendrecv', 'sendonly', 'inactive', undefined),
  ice: likely,
  fingerprint: likely,
  fb: fc.boolean(),
});

type Media = typeof media extends fc.Arbitrary<infer M> ? M : never;

const offer = fc
  .record({
    sessionIce: likely,
    // Browsers put audio first as often as not; one section in ten is absent or not video.
    medias: fc.oneof(
      {
        weight: 9,
        arbitrary: fc
          .tuple(
            fc.array(media, { maxLength: 1 }),
            media.map((m): Media => ({ ...m, kind: 'video' })),
            fc.array(media, { maxLength: 1 }),
          )
          .map(([a, v, b]): Media[] => [...a, v, ...b]),
      },
      { weight: 1, arbitrary: fc.array(media, { maxLength: 3 }) },
    ),
    eol: fc.constantFrom('\r\n', '\n'),
    ufrag: token(undefined, 8),
  })
  .map((o) => {
    const l = ['v=0', `o=- 4611731400430051336 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', `a=group:BUNDLE ${o.medias.map((_, i) => i).join(' ')}`];
    if (o.sessionIce) l.push(`a=ice-ufrag:${o.ufrag}`, 'a=ice-pwd:0123456789abcdefghijkl', 'a=fingerprint:sha-256 AB:CD:EF');
    o.medias.forEach((m, i) => {
      l.push(`m=${m.kind} ${m.port} UDP/TLS/RTP/SAVPF ${m.codecs.map(([pt]) => pt).join(' ')}`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0');
      if (m.ice) l.push(`a=ice-ufrag:${o.ufrag}`, 'a=ice-pwd:0123456789abcdefghijkl');
      if (m.fingerprint) l.push('a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF', 'a=setup:actpass');
      l.push(`a=mid:${i}`);
      if (m.direction) l.push(`a=${m.direction}`);
      for (const [pt, c] of m.codecs) {
        l.push(`a=rtpmap:${pt} ${c.name}/90000`);
        if (m.fb) l.push(`a=rtcp-fb:${pt} nack`, `a=rtcp-fb:${pt} nack pli`, `a=rtcp-fb:${pt} goog-remb`);
        const fmtp = [
          c.mode === undefined ? '' : `packetization-mode=${c.mode}`,
          c.profile === undefined ? '' : `profile-level-id=${c.profile}`,
          'level-asymmetry-allowed=1',
        ];
        l.push(`a=fmtp:${pt} ${fmtp.filter(Boolean).join(';')}`);
      }
      if (m.fb) l.push('a=rtcp-fb:* transport-cc');
    });
    return `${l.join(o.eol)}${o.eol}`;
  });

/** What the stream sends (prepareOffer answers only with it): H.264 of a profile, H.265 Main, or MJPEG (refused). */
const STREAMS: Record<string, CodecParameters> = {
  'h264 baseline': { codec: 'h264', profileLevelId: '42e01f', width: 320, height: 240, fps: 0 },
  'h264 main': { codec: 'h264', profileLevelId: '4d001f', width: 320, height: 240, fps: 0 },
  'h264 high': { codec: 'h264', profileLevelId: '640032', width: 320, height: 240, fps: 0 },
  'h265 main': { codec: 'h265', h265: { profileSpace: 0, tierFlag: 0, profileId: 1, levelId: 93 }, width: 320, height: 240, fps: 0 },
  mjpeg: { codec: 'mjpeg', width: 320, height: 240, fps: 0 },
};

type Input = { sdp: Mutated; json: 'object' | 'text' | 'raw'; type: string; profile: string };

const isRefusal = (err: unknown) => err instanceof CamdError && err.code.startsWith('CAMD_ERR_WEBRTC_') && err.statusCode >= 400 && err.statusCode < 500;

export const sdpOffer: FuzzTarget<Input> = {
  name: 'sdp-offer',
  what: 'parseOfferJson + prepareOffer (plugin-webrtc offer.ts): offer endpoint JSON and WHEP SDP; the answer must carry one valid payload type of the stream codec',
  arbitrary: fc.record({
    sdp: mutated(offer.map((s) => ({ bytes: Buffer.from(s, 'utf8'), meta: undefined }))),
    json: fc.constantFrom('object' as const, 'text' as const, 'raw' as const),
    type: fc.constantFrom('offer', 'offer', 'offer', 'offer', 'offer', 'answer', ''),
    profile: fc.constantFrom(...Object.keys(STREAMS)),
  }),
  show: (x) => `${x.json} type=${x.type} ${x.profile} ${showBytes(x.sdp.bytes)}`,
  refusal: isRefusal,
  run(x) {
    const text = x.sdp.bytes.toString('utf8');
    // The offer endpoint's body is parsed JSON (fastify) or a string; WHEP's is the SDP itself.
    const sdp =
      x.json === 'raw'
        ? text
        : parseOfferJson(x.json === 'object' ? { type: x.type, sdp: text } : Buffer.from(`{"type":"${x.type}","sdp":${JSON.stringify(text)}}`));
    const r = prepareOffer(sdp, STREAMS[x.profile]!, 'stream1');
    // What the peer connection is handed must be what an SDP answer can carry: one RTP payload type.
    if (!Number.isInteger(r.payloadType) || r.payloadType < 0 || r.payloadType > 127) throw new Finding(`payload type ${r.payloadType} chosen`);
    // The section prepareOffer narrowed: the first `m=video` whose port is not 0 (as it picks it).
    const video = r.sdp.split('\r\n').filter((l) => l.split(' ')[0] === 'm=video' && !l.startsWith('m=video 0 '))[0];
    if (!video?.endsWith(` ${r.payloadType}`)) throw new Finding(`video line ${video} does not carry payload type ${r.payloadType}`);
  },
};
