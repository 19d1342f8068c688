import { describe, expect, it } from 'vitest';
import { declareConstrainedHigh, h264Decodes, h264Distance, h264Level, h264SpsIsProgressive, matchH264 } from './h264-profiles.js';

// x264's SPS for 1280x720 High, level 3.1, progressive (frame_mbs_only_flag 1), with an emulation-prevention byte.
const X264_HIGH_SPS = Buffer.from('6764001facd9405005bb011000000300100000030 3c0f1831960'.replace(/ /g, ''), 'hex');
const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));

describe('H.264 profiles by Annex A', () => {
  it('knows which decoders decode which bitstreams', () => {
    expect(h264Decodes('high-444-predictive', 'high')).toBe(true);
    expect(h264Decodes('high-10', 'high')).toBe(true);
    expect(h264Decodes('high', 'main')).toBe(true);
    expect(h264Decodes('high', 'constrained-high')).toBe(true);
    expect(h264Decodes('main', 'constrained-baseline')).toBe(true);
    // Not the other way round, and Baseline proper (FMO, ASO) is no subset of Main.
    expect(h264Decodes('main', 'high')).toBe(false);
    expect(h264Decodes('constrained-high', 'high')).toBe(false);
    expect(h264Decodes('main', 'baseline')).toBe(false);
  });

  it('matches an offered format to a stream, level included unless asymmetry is allowed', () => {
    expect(matchH264({ profileLevelId: '640028', levelAsymmetryAllowed: false }, '640028')).toEqual({ kind: 'exact' });
    expect(matchH264({ profileLevelId: 'f4001f', levelAsymmetryAllowed: true }, '64002a')).toEqual({ kind: 'superset' });
    expect(matchH264({ profileLevelId: 'f4001f', levelAsymmetryAllowed: false }, '64002a')).toEqual({
      kind: 'mismatch',
      reason: 'level 3.1 offered for a level 4.2 stream',
    });
    expect(matchH264({ profileLevelId: '42e01f', levelAsymmetryAllowed: true }, '4d401f')).toEqual({
      kind: 'mismatch',
      reason: 'a constrained-baseline decoder for a main stream',
    });
    expect(h264Level('42f00b')).toBe(9); // level 1b
    expect(h264Level('64000b')).toBe(11);
  });

  it('ranks the offered profiles nearest to the stream first, more tools before fewer', () => {
    const order = ['42e01f', '4d001f', '640c1f'].sort((a, b) => h264Distance(a, '640028') - h264Distance(b, '640028'));
    expect(order).toEqual(['640c1f', '4d001f', '42e01f']);
    expect(h264Distance('64001f', '4d401f')).toBeLessThan(h264Distance('42e01f', '4d401f'));
  });
});

describe('Constrained High declaration', () => {
  it("sets constraint_set4 and 5 in a progressive High SPS, in the access unit's own bytes", () => {
    expect(h264SpsIsProgressive(X264_HIGH_SPS)).toBe(true);
    const au = annexB(X264_HIGH_SPS, Buffer.from([0x68, 0xeb, 0xe3, 0xcb]), Buffer.from([0x65, 0x88, 0x84]));
    expect(declareConstrainedHigh(au)).toBe(true);
    expect(au.subarray(5, 8).toString('hex')).toBe('640c1f');
    // The rest of the SPS is untouched, and a second pass changes nothing.
    expect(au.subarray(8, 4 + X264_HIGH_SPS.length)).toEqual(X264_HIGH_SPS.subarray(4));
    expect(declareConstrainedHigh(au)).toBe(false);
  });

  it('leaves Main, interlaced and unreadable SPSs alone', () => {
    const main = Buffer.from(X264_HIGH_SPS);
    main[1] = 77;
    expect(declareConstrainedHigh(annexB(main))).toBe(false);
    expect(declareConstrainedHigh(annexB(X264_HIGH_SPS.subarray(0, 6)))).toBe(false);
    // frame_mbs_only_flag is the bit after the picture height: clear it (interlaced coding allowed).
    expect(h264SpsIsProgressive(Buffer.from([0x67, 0x64, 0x00, 0x1f]))).toBe(false);
  });
});
