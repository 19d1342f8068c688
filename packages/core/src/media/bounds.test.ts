import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Caller } from '../auth/permissions.js';
import { configuredStreams, type StreamConfig } from '../config.js';
import { ErrorCodes, isCamdError } from '../errors.js';
import { defineStreamKeys, streamKeyName } from '../state/keys.js';
import { StateStore } from '../state/store.js';
import { StreamBounds } from './bounds.js';
import { levelLimits, type EncoderLimits } from './encoder-limits.js';
import { testSourceCapabilities } from './source-caps.js';
import type { VideoCodec } from './types.js';

const operator: Caller = { username: 'o', permissions: ['Media_rw'] };
const HD60: StreamConfig = { path: '/stream1', resolution: '1920x1080', fps: 60, bitrate: 8_000_000, source: 'videotestsrc:smpte' };
const HD30: StreamConfig = { path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, source: 'videotestsrc:ball' };

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The seed's two streams (or `streams`) on test patterns, bounded as the media plane bounds them. */
function setup(
  opts: { streams?: StreamConfig[]; budget?: number; stored?: Record<string, unknown>; encoder?: (c: VideoCodec) => EncoderLimits | undefined } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'camd-bounds-'));
  dirs.push(dir);
  if (opts.stored) writeFileSync(join(dir, 'state.json'), JSON.stringify(opts.stored));
  const state = new StateStore(dir);
  const streams = configuredStreams({ streams: opts.streams ?? [HD60, HD30] });
  defineStreamKeys(state, streams);
  const bounds = new StreamBounds({
    state,
    streams,
    stateKey: (s, k) => streamKeyName(k, s, s === streams[0]!.name),
    encoderLimits: opts.encoder ?? (() => undefined),
    maxPixelRate: opts.budget ?? 200_000_000,
  });
  for (const s of streams) if (s.source.kind === 'test') bounds.setSource(s.name, testSourceCapabilities(s.source.pattern));
  bounds.install();
  return { state, bounds, dir };
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isCamdError(e, ErrorCodes.STATE_INVALID)) throw new Error(`expected STATE_INVALID, got ${String(e)}`);
  return e;
}

describe('StreamBounds', () => {
  it('refuses 7680x7680 and 240 fps with what is allowed; nothing changes, nothing is notified', async () => {
    const { state, dir } = setup();
    const changes: string[] = [];
    state.subscribe((c) => changes.push(c.key));
    const big = await refusal(state.set('streamResolution', '7680x7680', operator));
    expect(big.message).toMatch(
      /^streamResolution "7680x7680": test pattern smpte \(videotestsrc\) delivers at most 3840x2160 up to 30 fps, 1920x1080 up to 60 fps, 1280x720 up to 120 fps/,
    );
    expect(big.message).toContain('Allowed now for stream1: at 60 fps the sizes 1920x1080, 1280x960, 1280x720,');
    expect(big.message).toContain('at 1920x1080 1 to 60 fps; pixel budget media.maxPixelRate 200.0 Mpx/s, 172.4 Mpx/s left for stream1');
    const fast = await refusal(state.set('stream2.streamFramerate', 240, operator));
    expect(fast.message).toMatch(/^stream2\.streamFramerate 240: .*1280x720 up to 120 fps/);
    expect(fast.message).toContain('at 1280x720 1 to 82 fps; pixel budget media.maxPixelRate 200.0 Mpx/s, 75.6 Mpx/s left for stream2');
    expect([state.get('streamResolution'), state.get('stream2.streamFramerate'), changes]).toEqual(['1920x1080', 30, []]);
    expect(() => readFileSync(join(dir, 'state.json'))).toThrow(/ENOENT/);
  });

  it("refuses what the encoder's level cannot encode (v4l2h264enc: level 4.2), per codec", async () => {
    const { state } = setup({ encoder: (c) => (c === 'h264' ? { ...levelLimits('h264', '4.2'), encoder: 'v4l2h264enc' } : undefined) });
    const e = await refusal(state.set('stream2.streamResolution', '2560x1440', operator));
    expect(e.message).toMatch(/H\.264 level 4\.2 \(v4l2h264enc\) allows at most 8704 macroblocks a frame; 2560x1440 has 14400/);
    // The same picture in H.265 (x265: level 6.2) is fine, and then H.264 cannot be chosen back.
    await state.setMany(
      [
        ['stream2.videoEncoder', 'h265'],
        ['stream2.streamResolution', '2560x1440'],
        ['stream2.streamFramerate', 15],
      ],
      operator,
    );
    expect((await refusal(state.set('stream2.videoEncoder', 'h264', operator))).message).toMatch(/^stream2\.videoEncoder "h264": H\.264 level 4\.2/);
  });

  it("the pixel budget refuses a second stream's increase and says how much is left", async () => {
    const { state } = setup();
    // 1920x1080@60 (124.4 Mpx/s) + 1920x1080@30 (62.2) fits 200 Mpx/s; at 60 fps it would not.
    await state.set('stream2.streamResolution', '1920x1080', operator);
    const more = await refusal(state.set('stream2.streamFramerate', 60, operator));
    expect(more.message).toContain(
      'stream2.streamFramerate 60: the streams would encode 248.8 Mpx/s together, more than the pixel budget media.maxPixelRate (200.0 Mpx/s): ' +
        'the other streams use 124.4 Mpx/s, leaving 75.6 Mpx/s for stream2 (1920x1080 up to 36 fps)',
    );
    expect(state.get('stream2.streamFramerate')).toBe(30);
    await state.set('stream2.streamFramerate', 36, operator);
    await refusal(state.set('streamFramerate', 61, operator));
    // A decrease is always allowed.
    await state.set('streamFramerate', 30, operator);
  });

  it('an encoder configuration is checked as a whole: 1080p60 → 720p120 in one write, or in the right order', async () => {
    const { state } = setup({ streams: [HD60] });
    await state.setMany(
      [
        ['streamResolution', '1280x720'],
        ['streamFramerate', 120],
      ],
      operator,
    );
    // Back to 1080p60: the size alone (1080p at 120 fps) is refused, both together are fine.
    expect((await refusal(state.set('streamResolution', '1920x1080', operator))).message).toMatch(/1920x1080 up to 60 fps/);
    await state.setMany(
      [
        ['streamResolution', '1920x1080'],
        ['streamFramerate', 60],
      ],
      operator,
    );
    expect([state.get('streamResolution'), state.get('streamFramerate')]).toEqual(['1920x1080', 60]);
  });

  it('limits() lists exactly what a write accepts: every size listed, the highest rate, and nothing above', async () => {
    const { state, bounds } = setup();
    const l = bounds.limits('stream2');
    expect(l.frameRate).toEqual({ min: 1, max: 82 }); // 1280x720 in the 75.6 Mpx/s left (the source gives 120)
    expect(l.pixelRate).toEqual({ budget: 200_000_000, others: 124_416_000, left: 75_584_000 });
    expect(l.resolutions[0]).toEqual({ width: 1920, height: 1080 });
    for (const r of l.resolutions) {
      await state.set('stream2.streamResolution', `${r.width}x${r.height}`, operator);
      await state.set('stream2.streamResolution', '1280x720', operator);
    }
    await refusal(state.set('stream2.streamResolution', '2560x1440', operator));
    await state.set('stream2.streamFramerate', l.frameRate.max, operator);
    await state.set('stream2.streamFramerate', 30, operator);
    await refusal(state.set('stream2.streamFramerate', l.frameRate.max + 1, operator));
    expect(bounds.limits('stream1', 'h264').frameRate.max).toBe(60);
  });

  it('a stream on a shared capture gets no more frames than the capture makes', async () => {
    const { state, bounds } = setup();
    bounds.setCapture('stream2', { fps: 30, streams: ['stream1', 'stream2'] });
    expect((await refusal(state.set('stream2.streamFramerate', 50, operator))).message).toMatch(
      /stream2 reads the capture it shares with stream1, which runs at 30 fps/,
    );
    expect(bounds.limits('stream2').frameRate.max).toBe(30);
  });

  it('at start, stored values that became impossible fall back to the config’s, the config itself must fit', async () => {
    // A stored size beyond the source, and a stream2 that fit a larger budget than today's.
    const { state, bounds } = setup({
      budget: 160_000_000,
      stored: { streamResolution: '7680x7680', 'stream2.streamResolution': '1920x1080', 'stream2.streamFramerate': 30, 'stream2.streamBitrate': 5_000_000 },
    });
    expect(state.get('streamResolution')).toBe('7680x7680'); // valid as a value; the bound decides
    bounds.verifyConfig();
    const resets = await bounds.reconcile();
    expect(resets.map((r) => [r.stream, r.changes])).toEqual([
      ['stream1', { streamResolution: { stored: '7680x7680', now: '1920x1080' } }],
      ['stream2', { 'stream2.streamResolution': { stored: '1920x1080', now: '1280x720' } }],
    ]);
    expect(resets[0]!.reason).toMatch(/delivers at most 3840x2160/);
    expect(resets[1]!.reason).toMatch(/more than the pixel budget media\.maxPixelRate \(160\.0 Mpx\/s\)/);
    // Other stored settings stay; the resets are persisted.
    expect(state.get('stream2.streamBitrate')).toBe(5_000_000);
    expect(JSON.parse(readFileSync(join(dirs[0]!, 'state.json'), 'utf8'))).toMatchObject({
      streamResolution: '1920x1080',
      'stream2.streamResolution': '1280x720',
    });
    // Only what is impossible is reset: a stored 720p stays when its 240 fps goes.
    const fast = setup({ streams: [HD60], stored: { streamResolution: '1280x720', streamFramerate: 240 } });
    expect((await fast.bounds.reconcile()).map((r) => r.changes)).toEqual([{ streamFramerate: { stored: 240, now: 60 } }]);
    expect(fast.state.get('streamResolution')).toBe('1280x720');
    // A config beyond the machine is a startup error naming the stream.
    const bad = setup({ streams: [{ ...HD60, resolution: '7680x7680' }] });
    expect(() => bad.bounds.verifyConfig()).toThrow(/config streams\[0\] "stream1": 7680x7680 at 60 fps \(h264\): .*delivers at most/);
    const over = setup({ budget: 100_000_000 });
    expect(() => over.bounds.verifyConfig()).toThrow(
      'config media.maxPixelRate: the configured streams encode 152.1 Mpx/s together (stream1 124.4 Mpx/s, stream2 27.6 Mpx/s), more than the budget of 100.0 Mpx/s',
    );
  });
});
