import type { CodecParameters } from '../media/types.js';
import { JPEG_PAYLOAD_TYPE } from './jpeg-rtp.js';

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

export interface VideoSdpOptions {
  /** Dynamic payload type for H.264 and H.265 (JPEG always has 26). */
  payloadType: number;
  params: CodecParameters;
  control?: string;
  bitrate?: number;
}

/** The media section of a stream in the codec its parameters name: H.264 (RFC 6184), H.265 (RFC 7798) or JPEG (RFC 2435). */
export function videoMediaSection(o: VideoSdpOptions): string[] {
  switch (o.params.codec) {
    case 'h264':
      return h264MediaSection(o);
    case 'h265':
      return h265MediaSection(o);
    case 'mjpeg':
      return jpegMediaSection(o);
    case 'vp8':
      // RFC 7741 §6.1: no format parameters are needed.
      return [
        `m=video 0 RTP/AVP ${o.payloadType}`,
        ...(o.bitrate ? [`b=AS:${Math.round(o.bitrate / 1000)}`] : []),
        `a=rtpmap:${o.payloadType} VP8/90000`,
        ...(o.control ? [`a=control:${o.control}`] : []),
      ];
    case 'vp9':
    case 'av1': {
      // RFC 9628 §6.1 (profile-id), AV1 RTP §7.2.1 (profile, level-idx, tier).
      const p = o.params;
      const fmtp =
        p.codec === 'vp9' ? `profile-id=${p.vp9Profile ?? 0}` : p.av1 ? `profile=${p.av1.profile};level-idx=${p.av1.levelIdx};tier=${p.av1.tier}` : '';
      return [
        `m=video 0 RTP/AVP ${o.payloadType}`,
        ...(o.bitrate ? [`b=AS:${Math.round(o.bitrate / 1000)}`] : []),
        `a=rtpmap:${o.payloadType} ${p.codec.toUpperCase()}/90000`,
        ...(fmtp ? [`a=fmtp:${o.payloadType} ${fmtp}`] : []),
        ...(o.control ? [`a=control:${o.control}`] : []),
      ];
    }
  }
}

/**
 * H.265 (RFC 7798 §7.1): profile, tier and level from the SPS, and the VPS, SPS and PPS in-band in
 * `sprop-vps`/`sprop-sps`/`sprop-pps` so a reader can set up its decoder before the first packet.
 */
export function h265MediaSection(o: VideoSdpOptions): string[] {
  const p = o.params;
  const fmtp: string[] = [];
  if (p.h265) {
    fmtp.push(`profile-space=${p.h265.profileSpace}`, `profile-id=${p.h265.profileId}`, `tier-flag=${p.h265.tierFlag}`, `level-id=${p.h265.levelId}`);
  }
  if (p.vps) fmtp.push(`sprop-vps=${p.vps.toString('base64')}`);
  if (p.sps) fmtp.push(`sprop-sps=${p.sps.toString('base64')}`);
  if (p.pps) fmtp.push(`sprop-pps=${p.pps.toString('base64')}`);
  const lines = [`m=video 0 RTP/AVP ${o.payloadType}`];
  if (o.bitrate) lines.push(`b=AS:${Math.round(o.bitrate / 1000)}`);
  lines.push(`a=rtpmap:${o.payloadType} H265/90000`);
  if (fmtp.length) lines.push(`a=fmtp:${o.payloadType} ${fmtp.join(';')}`);
  return [...lines, ...trailer(o)];
}

/** JPEG (RFC 2435, RFC 3551): the static payload type 26; the tables travel in-band with each frame. */
export function jpegMediaSection(o: Omit<VideoSdpOptions, 'payloadType'>): string[] {
  const lines = [`m=video 0 RTP/AVP ${JPEG_PAYLOAD_TYPE}`];
  if (o.bitrate) lines.push(`b=AS:${Math.round(o.bitrate / 1000)}`);
  lines.push(`a=rtpmap:${JPEG_PAYLOAD_TYPE} JPEG/90000`);
  return [...lines, ...trailer(o)];
}

function trailer(o: Omit<VideoSdpOptions, 'payloadType'>): string[] {
  const p = o.params;
  const lines: string[] = [];
  if (p.fps) lines.push(`a=framerate:${p.fps}`);
  if (p.width && p.height) lines.push(`a=x-dimensions:${p.width},${p.height}`);
  if (o.control) lines.push(`a=control:${o.control}`);
  return lines;
}
