import { describe, expect, it } from 'vitest';
import { factoriesIn, loadElementRegistry } from './element-registry.js';
import { isCamdError, ErrorCodes } from '../../errors.js';
import type { StreamSettings } from '../types.js';

const stream: StreamSettings = {
  name: 's',
  path: '/s',
  source: { kind: 'test', pattern: 'smpte' },
  width: 320,
  height: 240,
  fps: 15,
  bitrate: 1_000_000,
  codec: 'h264',
  profile: 'main',
  preset: 'fast',
  gop: 15,
};

describe('factoriesIn', () => {
  it('finds factories and skips caps, properties, quoted text and pad references', () => {
    expect(
      factoriesIn(
        'videotestsrc is-live=true ! video/x-raw,width=320 ! textoverlay text="Gate 3 ! x" font-desc="Sans 14" ! compositor name=c sink_1::xpos=4 ! x264enc  videotestsrc pattern=ball ! c.sink_1  fdsrc ! c.',
      ),
    ).toEqual(['videotestsrc', 'textoverlay', 'compositor', 'x264enc', 'videotestsrc', 'fdsrc']);
  });
});

describe('GstElementRegistry (this machine)', () => {
  it('reports what GStreamer has, with rank, class and pad caps', async () => {
    const r = await loadElementRegistry();
    expect(r.list().length).toBeGreaterThan(300);
    const x264 = r.get('x264enc')!;
    expect(x264).toMatchObject({ name: 'x264enc', klass: expect.stringMatching(/Encoder\/Video/), plugin: 'x264' });
    expect(x264.rank).toBeGreaterThan(0);
    expect(x264.srcCaps.join()).toMatch(/video\/x-h264/);
    for (const e of ['videotestsrc', 'videoconvert', 'compositor', 'gdppay', 'fdsink', 'h264parse']) expect(r.has(e), e).toBe(true);
  });

  it('picks x264enc for H.264 here (no hardware encoder), with zerolatency and no B-frames', async () => {
    const r = await loadElementRegistry();
    const enc = r.chooseEncoder(stream);
    expect(enc).toMatchObject({ factory: 'x264enc', hardware: false, bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 } });
    expect(enc.launch).toMatch(/tune=zerolatency/);
    expect(enc.launch).toMatch(/bframes=0/);
    expect(enc.launch).toMatch(/bitrate=1000 /);
    expect(r.chooseEncoder({ ...stream, codec: 'h265' }).factory).toBe('x265enc');
    expect(r.chooseEncoder({ ...stream, codec: 'mjpeg' }).factory).toBe('jpegenc');
  });

  it('fails clearly for a pipeline naming an absent element, with its Debian package', async () => {
    const r = await loadElementRegistry();
    let err: unknown;
    try {
      r.validateLaunch('videotestsrc ! vaapih264enc ! fakesink');
    } catch (e) {
      err = e;
    }
    expect(isCamdError(err, ErrorCodes.GST_ELEMENT_MISSING)).toBe(true);
    expect((err as Error).message).toBe('GStreamer element "vaapih264enc" is not available on this machine; install the Debian package gstreamer1.0-vaapi');
    expect(() => r.validateLaunch('videotestsrc ! notanelement ! fakesink')).toThrow('GStreamer element "notanelement" is not available on this machine');
  });

  it("picks the derived encoders (vp8enc, vp9enc, av1enc here) with a live bitrate, and prefers one a plugin registers (a board's hardware VP9)", async () => {
    const r = await loadElementRegistry();
    expect(r.chooseDerivedEncoder('vp8', stream)).toMatchObject({
      factory: 'vp8enc',
      codec: 'vp8',
      bitrateProperty: { name: 'target-bitrate', unitBitsPerSecond: 1 },
    });
    expect(r.chooseDerivedEncoder('vp9', stream)).toMatchObject({
      factory: 'vp9enc',
      codec: 'vp9',
      bitrateProperty: { name: 'target-bitrate', unitBitsPerSecond: 1 },
    });
    expect(r.chooseDerivedEncoder('av1', stream)).toMatchObject({
      factory: 'av1enc',
      codec: 'av1',
      bitrateProperty: { name: 'target-bitrate', unitBitsPerSecond: 1000 },
    });
    expect(r.chooseDerivedEncoder('av1', stream)!.launch).toMatch(/target-bitrate=1000 .*max-quantizer=56|max-quantizer=56 .*target-bitrate=1000 /);
    const hardware = (factory: string) => ({
      owner: 'board',
      factory,
      codec: 'vp9' as const,
      hardware: true,
      priority: 1,
      build: () => ({ owner: 'board', factory, codec: 'vp9' as const, hardware: true, launch: `${factory} name=encoder`, elements: [factory] }),
    });
    r.registerEncoder(hardware('v4l2vp9enc')); // not on this machine: skipped
    expect(r.chooseDerivedEncoder('vp9', stream)!.factory).toBe('vp9enc');
    expect(r.candidatesFor('vp9')).toEqual(['v4l2vp9enc', 'vp9enc']);
    r.registerEncoder(hardware('vp9enc'));
    expect(r.chooseDerivedEncoder('vp9', stream)).toMatchObject({ owner: 'board', hardware: true });
  });
});
