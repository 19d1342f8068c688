import type { EncoderProfile } from '@camd/core';
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

const PROFILE_IDC: Record<EncoderProfile, number> = { baseline: 0x42, main: 0x4d, high: 0x64 };

/**
 * Checks an SDP offer and narrows its video section to the one H.264 format that fits the stream, so
 * the browser is told exactly what it will receive (camd never transcodes). Returns the offer to hand
 * to the peer connection.
 *
 * Preference: packetization-mode=1 with the stream's profile, then any packetization-mode=1 H.264 (a
 * decoder of one profile decodes the stream's constrained tools in practice; level-asymmetry allows the
 * level to differ).
 */
export function prepareOffer(sdp: string, profile: EncoderProfile): { sdp: string; payloadType: number; fmtp: string } {
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

  const h264 = video.lines
    .map((l) => /^a=rtpmap:(\d{1,3}) H264\/90000$/i.exec(l))
    // An RTP payload type is 7 bits (RFC 3550 §5.1): a larger one cannot be answered (found by `pnpm fuzz`).
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) <= 127)
    .map((m) => {
      const pt = Number(m[1]);
      const fmtp = video.lines.find((l) => l.startsWith(`a=fmtp:${pt} `))?.slice(`a=fmtp:${pt} `.length) ?? '';
      const params = new Map(fmtp.split(';').map((kv) => kv.trim().split('=') as [string, string]));
      return { pt, fmtp, mode: params.get('packetization-mode') ?? '0', profileIdc: parseInt((params.get('profile-level-id') ?? '42').slice(0, 2), 16) };
    })
    .filter((c) => c.mode === '1');
  if (h264.length === 0)
    throw new WebRtcErrors.CODEC('the offer has no H.264 video with packetization-mode=1: camd streams H.264 as encoded, without transcoding');
  const chosen = h264.find((c) => c.profileIdc === PROFILE_IDC[profile]) ?? h264[0]!;

  // Keep only the chosen format in the video section (and the lines that are not per-format).
  const m = video.lines[0]!.split(' ');
  video.lines[0] = [...m.slice(0, 3), String(chosen.pt)].join(' ');
  video.lines = video.lines.filter((l) => {
    const f = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+|\*)[ ]/.exec(l);
    return !f || f[1] === '*' || Number(f[1]) === chosen.pt;
  });
  const out = [...session, ...sections.flatMap((s) => s.lines)].join('\r\n') + '\r\n';
  return { sdp: out, payloadType: chosen.pt, fmtp: chosen.fmtp };
}
