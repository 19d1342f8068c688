import { CODEC_LABEL, h264Distance, h264ProfileClass, h265ProfileName, matchH264, type CodecParameters, type DerivedCodec } from '@camd/core';
import { WebRtcErrors } from './errors.js';

/** Larger offers are not browsers' (Chromium's full offer with every codec is ~6 KB). */
export const MAX_SDP_BYTES = 64 * 1024;

/** The documented browser client (README, WebRTC) posts `JSON.stringify(offer)`: `{type: 'offer', sdp}`. */
export function parseOfferJson(body: unknown): string {
  let value = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      value = JSON.parse(body.toString());
    } catch {
      throw new WebRtcErrors.BAD_OFFER('the body is not JSON: expected {"type":"offer","sdp":"v=0..."}');
    }
  }
  const o = value as { type?: unknown; sdp?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new WebRtcErrors.BAD_OFFER('expected a JSON object {"type":"offer","sdp":"v=0..."}');
  if (o.type !== 'offer') throw new WebRtcErrors.BAD_OFFER(`"type" must be "offer" (got ${JSON.stringify(o.type ?? null)})`);
  if (typeof o.sdp !== 'string') throw new WebRtcErrors.BAD_OFFER('"sdp" must be a string');
  return o.sdp;
}

interface MediaSection {
  kind: string;
  lines: string[];
}

/**
 * Checks an SDP offer and narrows its video section to the one format that is exactly what the stream
 * sends, so the browser is told what it will receive (camd never transcodes: one encoder per stream).
 * Returns the offer to hand to the peer connection, whose answer then names that format.
 *
 * - H.264 (packetization-mode=1), per Annex A: the stream's own profile (by profile_idc and constraint
 *   flags, as browsers match an answer to their offer), its `profile-level-id` rewritten to the SPS's,
 *   level included; else a profile whose decoders decode the stream's (High 4:4:4 Predictive decodes
 *   High: Debian's Chromium offers no High), at a level at or above the stream's or with level
 *   asymmetry allowed, under the offer's own parameters. When none covers the stream, the closest
 *   offered profile, flagged `profileMismatch` (refused with a 422 under `strictProfile`).
 * - A client whose offer has none of the above (no H.264: libwebrtc without it, or an H.265 or MJPEG
 *   stream) is answered with a derived codec it offers (VP8, VP9 profile 0, AV1 Main): the stream's
 *   pictures encoded once more (`derived` says which), shared by every such client; one already
 *   running for the stream first, then the order of `derivedCodecs`.
 * - H.265: an offered H265/90000 format of the stream's profile (`profile-id`, 1 = Main when absent).
 * - MJPEG: WebRTC has no JPEG payload: refused.
 */
export function prepareOffer(
  sdp: string,
  params: CodecParameters,
  stream = 'the stream',
  opts: OfferOptions = {},
): { sdp: string; payloadType: number; fmtp: string; profileMismatch?: string; derived?: DerivedCodec } {
  const { session, sections, video } = checkOffer(sdp);
  // Formats the m= line lists, as written: an `a=rtpmap:014` for a listed 114 describes nothing offered
  // (and its fmtp would be inserted before the m= line; found by `pnpm fuzz`).
  const listed = new Set(video.lines[0]!.split(' ').slice(3));
  const formats = video.lines
    .map((l) => /^a=rtpmap:(\d{1,3}) ([\w-]+)\/90000$/i.exec(l))
    // An RTP payload type is 7 bits (RFC 3550 §5.1): a larger one cannot be answered (found by `pnpm fuzz`).
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) <= 127 && listed.has(m[1]!))
    .map((m) => {
      const pt = Number(m[1]);
      const fmtp = video.lines.find((l) => l.startsWith(`a=fmtp:${pt} `))?.slice(`a=fmtp:${pt} `.length) ?? '';
      return { pt, name: m[2]!.toUpperCase(), fmtp, params: new Map(fmtp.split(';').map((kv) => kv.trim().split('=') as [string, string])) };
    });
  const chosen = chooseFormat(formats, params, stream, opts);
  // The chosen format as the stream is: the answer repeats the offer's parameters for it.
  const fmtpLine = `a=fmtp:${chosen.pt} `;
  const i = video.lines.findIndex((l) => l.startsWith(fmtpLine));
  if (chosen.fmtp) {
    if (i >= 0) video.lines[i] = fmtpLine + chosen.fmtp;
    else video.lines.splice(video.lines.findIndex((l) => l.startsWith(`a=rtpmap:${chosen.pt} `)) + 1, 0, fmtpLine + chosen.fmtp);
  }
  // Keep only the chosen format in the video section (and the lines that are not per-format).
  const m = video.lines[0]!.split(' ');
  video.lines[0] = [...m.slice(0, 3), String(chosen.pt)].join(' ');
  video.lines = video.lines.filter((l) => {
    const f = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+|\*)[ ]/.exec(l);
    return !f || f[1] === '*' || Number(f[1]) === chosen.pt;
  });
  const out = [...session, ...sections.flatMap((s) => s.lines)].join('\r\n') + '\r\n';
  return {
    sdp: out,
    payloadType: chosen.pt,
    fmtp: chosen.fmtp ?? '',
    ...(chosen.mismatch ? { profileMismatch: chosen.mismatch } : {}),
    ...(chosen.derived ? { derived: chosen.derived } : {}),
  };
}

/**
 * The checks of an offer that need nothing of the stream (size, SDP syntax, DTLS and ICE
 * credentials, a receiving video section), done before waiting for the stream's parameters.
 */
export function checkOffer(sdp: string): { session: string[]; sections: MediaSection[]; video: MediaSection } {
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES) throw new WebRtcErrors.OFFER_TOO_LARGE(MAX_SDP_BYTES);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new WebRtcErrors.BAD_SDP('the SDP must start with "v=0"');
  for (const l of lines) if (!/^[a-z]=/.test(l)) throw new WebRtcErrors.BAD_SDP(`malformed SDP line: ${JSON.stringify(l.slice(0, 80))}`);
  const session: string[] = [];
  const sections: MediaSection[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) sections.push({ kind: l.slice(2).split(' ')[0]!, lines: [l] });
    else if (sections.length) sections[sections.length - 1]!.lines.push(l);
    else session.push(l);
  }
  if (!session.some((l) => l.startsWith('o='))) throw new WebRtcErrors.BAD_SDP('the SDP has no o= line');
  // DTLS-SRTP needs the peer's certificate fingerprint and ICE its credentials (RFC 8829 §5.8).
  const has = (prefix: string, section: MediaSection) => session.some((l) => l.startsWith(prefix)) || section.lines.some((l) => l.startsWith(prefix));
  for (const section of sections) {
    for (const [prefix, what] of [
      ['a=fingerprint:', 'a DTLS fingerprint (a=fingerprint)'],
      ['a=ice-ufrag:', 'ICE credentials (a=ice-ufrag)'],
      ['a=ice-pwd:', 'ICE credentials (a=ice-pwd)'],
    ] as const) {
      if (!has(prefix, section)) throw new WebRtcErrors.BAD_SDP(`the offer's ${section.kind} section has no ${what}`);
    }
  }
  const videos = sections.filter((s) => s.kind === 'video' && !/^m=video 0 /.test(s.lines[0]!));
  if (videos.length === 0)
    throw new WebRtcErrors.NO_VIDEO('the offer has no video section: add a recvonly video transceiver (pc.addTransceiver("video", {direction: "recvonly"}))');
  const video = videos[0]!;
  const direction = video.lines.find((l) => /^a=(sendrecv|recvonly|sendonly|inactive)$/.test(l))?.slice(2) ?? 'sendrecv';
  if (direction !== 'recvonly' && direction !== 'sendrecv')
    throw new WebRtcErrors.NO_VIDEO(`the offer's video is "${direction}": it must receive video (recvonly)`);

  return { session, sections, video };
}

interface OfferedFormat {
  pt: number;
  name: string;
  fmtp: string;
  params: Map<string, string>;
}

export interface OfferOptions {
  /** Refuse (422) H.264 offers none of whose profiles covers the stream's, rather than send it anyway. */
  strictProfile?: boolean;
  /** Derived encodings a client without the stream's codec may get, in order of preference. */
  derivedCodecs?: readonly DerivedCodec[];
  /** Those of them running for the stream now: preferred, so that the client joins an encoder rather than start another. */
  runningDerived?: readonly DerivedCodec[];
}

interface ChosenFormat {
  pt: number;
  fmtp?: string;
  /** Set when the answer names a derived encoding of the stream (the client cannot take its own codec). */
  derived?: DerivedCodec;
  /** Why the format's profile does not cover the stream's (sent anyway), when it does not. */
  mismatch?: string;
}

/**
 * The offered format to answer for the stream's codec, with the fmtp to answer; throws a 422 naming
 * both sides when the codec is not offered (or, with `strict`, when no offered H.264 profile covers the stream's).
 */
function chooseFormat(formats: OfferedFormat[], params: CodecParameters, stream: string, opts: OfferOptions): ChosenFormat {
  try {
    return ownFormat(formats, params, stream, opts.strictProfile === true);
  } catch (err) {
    // A client that cannot take the stream's own encoding gets a derived one (VP8, VP9, AV1), when it
    // offers one that the options allow and this machine can encode: the extra encoder is shared by all
    // such viewers. One already running for the stream comes first (no second encoder), then the
    // options' order.
    const allowed = opts.derivedCodecs ?? [];
    const running = (opts.runningDerived ?? []).filter((c) => allowed.includes(c));
    for (const codec of [...running, ...allowed]) {
      const f = formats.find((x) => derivedFormatTakes(x, codec));
      if (f) return { pt: f.pt, fmtp: f.fmtp, derived: codec };
    }
    throw err;
  }
}

/**
 * Whether an offered format decodes camd's derived encoding of `codec`: VP8; VP9 profile 0 (RFC 9628
 * `profile-id`, 0 when absent: vp9enc's 8-bit 4:2:0); AV1 Main (`profile`, 0 when absent: av1enc's).
 */
function derivedFormatTakes(f: OfferedFormat, codec: DerivedCodec): boolean {
  switch (codec) {
    case 'vp8':
      return f.name === 'VP8';
    case 'vp9':
      return f.name === 'VP9' && (f.params.get('profile-id') ?? '0') === '0';
    case 'av1':
      return f.name === 'AV1' && (f.params.get('profile') ?? '0') === '0';
  }
}

/** The offered format of the stream's own codec (see `prepareOffer`); throws the 422 otherwise. */
function ownFormat(formats: OfferedFormat[], params: CodecParameters, stream: string, strict: boolean): ChosenFormat {
  const offered = [...new Set(formats.map((f) => f.name).filter((n) => !['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'].includes(n)))].join(', ') || 'no video codec';
  switch (params.codec) {
    case 'h264': {
      const plid = params.profileLevelId ?? '';
      const h264 = formats.filter((f) => f.name === 'H264' && (f.params.get('packetization-mode') ?? '0') === '1');
      if (h264.length === 0)
        throw new WebRtcErrors.CODEC(
          `the offer has no H.264 video with packetization-mode=1: ${stream} is H.264, streamed as encoded without transcoding (offered: ${offered})`,
        );
      // RFC 6184 §8.1: an absent profile-level-id is 42001f (Constrained Baseline would be 42e01f).
      const offeredPlid = (f: OfferedFormat) => f.params.get('profile-level-id') ?? '42001f';
      const matches = h264.map((f) => ({
        f,
        m: matchH264({ profileLevelId: offeredPlid(f), levelAsymmetryAllowed: f.params.get('level-asymmetry-allowed') === '1' }, plid),
      }));
      // The stream's own profile first, then a profile whose decoders decode it (Annex A), in the offer's order.
      const covering = matches.find((x) => x.m.kind === 'exact') ?? matches.find((x) => x.m.kind === 'superset');
      if (covering?.m.kind === 'exact') {
        // Same profile, the stream's level; level-asymmetry-allowed as offered.
        const fmtp = covering.f.fmtp.replace(/profile-level-id=[0-9a-fA-F]{6}/, `profile-level-id=${plid}`);
        return { pt: covering.f.pt, fmtp: /profile-level-id=/.test(fmtp) ? fmtp : `${fmtp};profile-level-id=${plid}` };
      }
      // A superset (or, below, the closest) keeps the offer's own parameters: a browser checks that an
      // answer's H.264 format is a profile it offered for that payload type.
      if (covering) return { pt: covering.f.pt, fmtp: covering.f.fmtp };
      const profile = h264ProfileClass(plid) ?? 'of an unknown profile';
      const names = [...new Set(h264.map((f) => h264ProfileClass(offeredPlid(f)) ?? offeredPlid(f)))].join(', ');
      if (strict) {
        throw new WebRtcErrors.CODEC(
          `${stream} is H.264 ${profile} (profile-level-id ${plid}) and this browser offers H.264 ${names} only, none of which decodes it ` +
            '(option strictProfile): set encoderProfile to one of those or watch another stream',
        );
      }
      // Nothing offered covers the stream: send it anyway under the closest offered format, as Janus,
      // MediaMTX and go2rtc do (every browser's H.264 decoder takes High); the viewer's stats say so.
      const closest = [...matches].sort((a, b) => h264Distance(offeredPlid(a.f), plid) - h264Distance(offeredPlid(b.f), plid))[0]!;
      const reason = closest.m.kind === 'mismatch' ? closest.m.reason : '';
      return {
        pt: closest.f.pt,
        fmtp: closest.f.fmtp,
        mismatch: `${stream} is H.264 ${profile} (profile-level-id ${plid}), sent as the offered ${h264ProfileClass(offeredPlid(closest.f)) ?? offeredPlid(closest.f)} format (${reason}; offered: ${names})`,
      };
    }
    case 'h265': {
      const ptl = params.h265;
      const h265 = formats.filter((f) => f.name === 'H265' && Number(f.params.get('profile-id') ?? '1') === (ptl?.profileId ?? 1));
      if (h265.length === 0) {
        const what = `H.265 ${h265ProfileName(ptl?.profileId ?? 1)}`;
        throw new WebRtcErrors.CODEC(
          `${stream} is ${what} and this browser's offer carries no ${what} (offered: ${offered}): set videoEncoder to h264 for WebRTC, or play it over RTSP`,
        );
      }
      const f = h265[0]!;
      const fmtp = ptl ? `profile-id=${ptl.profileId};tier-flag=${ptl.tierFlag};level-id=${ptl.levelId}` : f.fmtp;
      return { pt: f.pt, fmtp };
    }
    case 'mjpeg':
      throw new WebRtcErrors.CODEC(
        `${stream} is ${CODEC_LABEL.mjpeg}, which WebRTC cannot carry: use GET /api/streams/<name>/mjpeg (an <img> shows it) or RTSP, or set videoEncoder to h264`,
      );
    case 'vp8':
    case 'vp9':
    case 'av1': {
      const f = formats.find((x) => derivedFormatTakes(x, params.codec as DerivedCodec));
      const label = CODEC_LABEL[params.codec];
      if (!f) throw new WebRtcErrors.CODEC(`${stream} is ${label} and this browser's offer carries no ${label} (offered: ${offered})`);
      return { pt: f.pt, fmtp: f.fmtp };
    }
  }
}
