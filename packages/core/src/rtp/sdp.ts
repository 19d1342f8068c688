import type { CodecParameters } from '../media/types.js';

export interface H264SdpOptions {
  payloadType: number;
  params: CodecParameters;
  /** `a=control` of the track. */
  control?: string;
  bitrate?: number;
}

/** The media section of an H.264 stream (RFC 6184 §8.2.1). */
export function h264MediaSection(o: H264SdpOptions): string[] {
  const p = o.params;
  const fmtp = ['packetization-mode=1'];
  if (p.profileLevelId) fmtp.push(`profile-level-id=${p.profileLevelId}`);
  if (p.sps && p.pps) fmtp.push(`sprop-parameter-sets=${p.sps.toString('base64')},${p.pps.toString('base64')}`);
  const lines = [`m=video 0 RTP/AVP ${o.payloadType}`];
  if (o.bitrate) lines.push(`b=AS:${Math.round(o.bitrate / 1000)}`);
  lines.push(`a=rtpmap:${o.payloadType} H264/90000`, `a=fmtp:${o.payloadType} ${fmtp.join(';')}`);
  if (p.fps) lines.push(`a=framerate:${p.fps}`);
  if (p.width && p.height) lines.push(`a=x-dimensions:${p.width},${p.height}`);
  if (o.control) lines.push(`a=control:${o.control}`);
  return lines;
}
