import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isJoinPoint, parseParameterSets } from './codec.js';
import { h264ProfileClass, splitAnnexB } from './h264.js';
import { H265_NAL, h265NalType, h265ProfileTierLevel, unescapeRbsp } from './h265.js';
import type { EncodedFrame } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'camd-codec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A few seconds of real x265 output as camd configures it (encoders.ts), split into access units by start of each AUD. */
function x265AccessUnits(): Buffer[] {
  const file = join(dir, 'a.h265');
  execFileSync('gst-launch-1.0', [
    '-q',
    ...`videotestsrc num-buffers=20 ! video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! x265enc tune=zerolatency speed-preset=superfast bitrate=300 key-int-max=10 option-string=scenecut=0:open-gop=0 ! h265parse config-interval=-1 ! video/x-h265,stream-format=byte-stream,alignment=au ! filesink location=${file}`.split(
      ' ',
    ),
  ]);
  const data = readFileSync(file);
  // Access units: an AUD, or a VPS not preceded by an AUD, starts one.
  const units: Buffer[][] = [];
  for (const nal of splitAnnexB(data)) {
    const t = h265NalType(nal);
    const prev = units.at(-1)?.at(-1);
    if (!prev || t === H265_NAL.AUD || (t === H265_NAL.VPS && h265NalType(prev) !== H265_NAL.AUD) || (isSlice(prev) && isSlice(nal))) units.push([]);
    units.at(-1)!.push(nal);
  }
  return units.map((u) => Buffer.concat(u.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n])));
}
const isSlice = (n: Buffer) => h265NalType(n) < 32;

const frame = (data: Buffer, codec: EncodedFrame['codec'], keyframe = true): EncodedFrame => ({
  stream: 's',
  seq: 1,
  data,
  keyframe,
  codec,
  captureTimeMs: 0,
  rtpTimestamp: 0,
  receivedAt: 0,
  width: 320,
  height: 240,
});

describe('H.265 parameter sets', () => {
  const units = x265AccessUnits();

  it('finds VPS, SPS and PPS in a real x265 keyframe and reads profile, tier and level from the SPS as ffprobe does', () => {
    const key = units[0]!;
    expect(isJoinPoint('h265', key)).toBe(true);
    const p = parseParameterSets(frame(key, 'h265'));
    expect(p).toMatchObject({ codec: 'h265', width: 320, height: 240 });
    expect(h265NalType(p!.vps!)).toBe(H265_NAL.VPS);
    expect(h265NalType(p!.sps!)).toBe(H265_NAL.SPS);
    expect(h265NalType(p!.pps!)).toBe(H265_NAL.PPS);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=profile,level', '-of', 'json', join(dir, 'a.h265')]).toString(),
    ) as { streams: Array<{ profile: string; level: number }> };
    // Main profile (general_profile_idc 1), Main tier, level_idc as ffprobe reports it (30 × level).
    expect(probe.streams[0]!.profile).toBe('Main');
    expect(p!.h265).toEqual({ profileSpace: 0, tierFlag: 0, profileId: 1, levelId: probe.streams[0]!.level });
  });

  it('keyframes every GOP are IDR pictures (closed GOP); the frames between are not join points', () => {
    const joins = units.map((u) => isJoinPoint('h265', u));
    expect(joins.filter(Boolean).length).toBe(2);
    expect(joins[0]).toBe(true);
    const idrTypes = units
      .filter((u) => isJoinPoint('h265', u))
      .flatMap((u) =>
        splitAnnexB(u)
          .map(h265NalType)
          .filter((t) => t >= 16 && t <= 23),
      );
    expect(idrTypes.every((t) => t === H265_NAL.IDR_W_RADL || t === H265_NAL.IDR_N_LP)).toBe(true);
  });

  it('removes emulation-prevention bytes before reading the profile', () => {
    expect([...unescapeRbsp(Buffer.from([1, 0, 0, 3, 1, 0, 0, 3, 0, 3]))]).toEqual([1, 0, 0, 1, 0, 0, 0, 3]);
    // NAL header 42 01, ids byte, then profile space 1, tier 1, profile 2 (main 10), 4+6 bytes of flags, level 120.
    const sps = Buffer.from([0x42, 0x01, 0x01, 0x62, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 120]);
    expect(h265ProfileTierLevel(sps)).toEqual({ profileSpace: 1, tierFlag: 1, profileId: 2, levelId: 120 });
  });
});

describe('H.264 profiles as browsers classify them', () => {
  it('tells constrained baseline, baseline, main, high, constrained high and high 4:4:4 apart', () => {
    expect(h264ProfileClass('42e01f')).toBe('constrained-baseline');
    expect(h264ProfileClass('42c01e')).toBe('constrained-baseline');
    expect(h264ProfileClass('42001f')).toBe('baseline');
    expect(h264ProfileClass('4d001f')).toBe('main');
    expect(h264ProfileClass('4d401e')).toBe('main');
    expect(h264ProfileClass('4d801f')).toBe('constrained-baseline');
    expect(h264ProfileClass('640028')).toBe('high');
    expect(h264ProfileClass('640c1f')).toBe('constrained-high');
    expect(h264ProfileClass('f4001f')).toBe('high-444-predictive');
    expect(h264ProfileClass('6e001f')).toBe('high-10');
    expect(h264ProfileClass('58001f')).toBeUndefined();
    expect(h264ProfileClass('zz')).toBeUndefined();
  });
});

describe('JPEG', () => {
  it('every JPEG frame is a join point with its size as parameters', () => {
    expect(isJoinPoint('mjpeg', Buffer.from([0xff, 0xd8]))).toBe(true);
    expect(parseParameterSets(frame(Buffer.from([0xff, 0xd8]), 'mjpeg'))).toEqual({ codec: 'mjpeg', width: 320, height: 240, fps: 0 });
  });
});
