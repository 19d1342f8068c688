import { describe, expect, it } from 'vitest';
import type { CodecParameters } from '../media/types.js';
import { h264MediaSection } from './sdp.js';

const sps = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9]);
const pps = Buffer.from([0x68, 0xeb, 0xe3, 0xcb]);
const params: CodecParameters = { codec: 'h264', sps, pps, profileLevelId: '64001f', width: 1280, height: 720, fps: 30 };

/** `a=fmtp:<pt> k=v;k=v` as a map (RFC 6184 §8.1 parameters). */
function fmtp(lines: string[], pt: number): Record<string, string> {
  const line = lines.find((l) => l.startsWith(`a=fmtp:${pt} `));
  expect(line).toBeDefined();
  return Object.fromEntries(
    line!
      .slice(`a=fmtp:${pt} `.length)
      .split(';')
      .map((kv) => kv.split(/=(.*)/s, 2) as [string, string]),
  );
}

describe('h264MediaSection (RFC 6184 §8.2.1, RFC 4566)', () => {
  it('describes an H.264 video track: m= with the payload type, rtpmap at 90 kHz, fmtp with mode 1, profile and parameter sets', () => {
    const lines = h264MediaSection({ payloadType: 96, params, control: 'trackID=0', bitrate: 2_000_000 });
    expect(lines[0]).toBe('m=video 0 RTP/AVP 96');
    expect(lines).toContain('a=rtpmap:96 H264/90000');
    expect(fmtp(lines, 96)).toEqual({
      'packetization-mode': '1',
      'profile-level-id': '64001f',
      // base64 of each NAL (no start code), comma-separated, SPS first.
      'sprop-parameter-sets': `${sps.toString('base64')},${pps.toString('base64')}`,
    });
    expect(lines).toContain('a=control:trackID=0');
    expect(lines).toContain('a=framerate:30');
  });

  it('puts b=AS (kbit/s) before the attributes, as RFC 4566 §5 orders a media description', () => {
    const lines = h264MediaSection({ payloadType: 96, params, bitrate: 2_499_600 });
    expect(lines[1]).toBe('b=AS:2500');
    expect(lines.slice(2).every((l) => l.startsWith('a='))).toBe(true);
  });

  it('uses the given payload type everywhere', () => {
    const lines = h264MediaSection({ payloadType: 102, params });
    expect(lines[0]).toBe('m=video 0 RTP/AVP 102');
    expect(lines).toContain('a=rtpmap:102 H264/90000');
    expect(fmtp(lines, 102)['packetization-mode']).toBe('1');
  });

  it('leaves out what it does not know: no parameter sets, no profile, no bitrate, no rate, no control', () => {
    const lines = h264MediaSection({ payloadType: 96, params: { codec: 'h264', width: 0, height: 0, fps: 0 } });
    expect(lines).toEqual(['m=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1']);
  });

  it('needs both SPS and PPS for sprop-parameter-sets', () => {
    expect(fmtp(h264MediaSection({ payloadType: 96, params: { ...params, pps: undefined } }), 96)['sprop-parameter-sets']).toBeUndefined();
  });

  it('has no line breaks or empty lines inside (the caller joins them with CRLF)', () => {
    const lines = h264MediaSection({ payloadType: 96, params, control: 'trackID=0', bitrate: 1 });
    expect(lines.every((l) => l.length > 0 && !/[\r\n]/.test(l) && /^[a-z]=/.test(l))).toBe(true);
  });
});
