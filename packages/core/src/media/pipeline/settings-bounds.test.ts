import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, type TestHost } from '../../testing/index.js';
import type { StreamManager } from './manager.js';
import { querySourceCaps } from './element-registry.js';
import { modesFromCaps } from '../source-caps.js';

let host: TestHost | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await host?.close();
  host = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Stats = Record<string, { uptime: number; restarts: number; errors: number; width: number; height: number; state: string }>;
const stats = async (h: TestHost) => (await (await h.fetch('/api/stats')).json()) as Stats;

describe('settings bounded by what the machine can do (real pipelines)', () => {
  it('7680x7680 and 240 fps get 400 with what is allowed; the running pipeline is not touched', async () => {
    host = await createTestHost({ config: { streams: [testStream({ resolution: '640x360', fps: 30 })] } });
    const h = host;
    const manager = h.host.media as StreamManager;
    const before = await until(async () => {
      const s = (await stats(h)).stream1!;
      return s.state === 'playing' && s.uptime >= 1 && s;
    });
    const pipeline = manager.pipelineId('stream1');

    const big = await putState(h, 'streamResolution', '7680x7680', h.users.operator);
    expect(big.status).toBe(400);
    const body = (await big.json()) as { code: string; message: string };
    expect(body.code).toBe('CAMD_ERR_STATE_INVALID');
    expect(body.message).toMatch(
      /^streamResolution "7680x7680": test pattern smpte \(videotestsrc\) delivers at most 3840x2160 up to 30 fps, 1920x1080 up to 60 fps/,
    );
    expect(body.message).toContain('Allowed now for stream1: at 30 fps the sizes 2560x1440, 1920x1080, 1280x960,');
    const fast = await putState(h, 'streamFramerate', 240, h.users.operator);
    expect(fast.status).toBe(400);
    expect(((await fast.json()) as { message: string }).message).toContain('at 640x360 1 to 120 fps');

    // The pipeline keeps playing for seconds after the refusals (a change would rebuild it 150 ms after
    // it is made): same pipeline, no restart, no error, the same picture, and nothing persisted.
    const after = await until(async () => {
      const s = (await stats(h)).stream1!;
      return s.uptime >= before.uptime + 2 && s;
    });
    expect(manager.pipelineId('stream1')).toBe(pipeline);
    expect(after).toMatchObject({ restarts: before.restarts, errors: before.errors, width: 640, height: 360, state: 'playing' });
    expect((await (await h.fetch('/api/state/streamResolution')).json()).value).toBe('640x360');
    const stored = join(h.stateDir, 'state.json');
    expect(existsSync(stored) ? readFileSync(stored, 'utf8') : '').not.toContain('7680');
  });

  it('a stored size that became impossible falls back to the config’s at start with a warning: the stream plays, no restart loop', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'camd-bounds-'));
    dirs.push(stateDir);
    // Stored by an older camd, or before the budget was lowered: valid values, impossible here.
    writeFileSync(
      join(stateDir, 'state.json'),
      JSON.stringify({ streamResolution: '7680x7680', 'stream2.streamResolution': '640x480', 'stream2.streamBitrate': 300_000 }),
    );
    host = await createTestHost({
      stateDir,
      config: {
        streams: [testStream(), testStream({ path: '/stream2' })],
        // 2 x 320x240@15 = 2.3 Mpx/s fit; 640x480@15 for stream2 (4.6) would not.
        media: { maxPixelRate: 4_000_000 },
      },
    });
    const h = host;
    const s = await until(async () => {
      const all = await stats(h);
      return all.stream1!.state === 'playing' && all.stream2!.state === 'playing' && all;
    });
    expect(s.stream1).toMatchObject({ width: 320, height: 240, restarts: 0, errors: 0 });
    expect(s.stream2).toMatchObject({ width: 320, height: 240, restarts: 0, errors: 0 });
    const value = async (k: string) => (await (await h.fetch(`/api/state/${k}`)).json()).value;
    expect([await value('streamResolution'), await value('stream2.streamResolution'), await value('stream2.streamBitrate')]).toEqual([
      '320x240',
      '320x240',
      300_000,
    ]);
    expect(JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'))).toMatchObject({
      streamResolution: '320x240',
      'stream2.streamResolution': '320x240',
    });
    const log = h.recentLog();
    expect(log).toContain('stored settings of stream1 are beyond what it can do (test pattern smpte (videotestsrc) delivers at most 3840x2160');
    expect(log).toContain('using the config\'s: streamResolution \\"7680x7680\\" → \\"320x240\\"');
    expect(log).toContain('stored settings of stream2 are beyond what it can do (the streams would encode 5.8 Mpx/s together, more than the pixel budget');
  });

  it('a config beyond the machine is a startup error naming the stream', async () => {
    const err = await createTestHost({ media: false, config: { streams: [testStream({ resolution: '7680x7680' })] } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /^config streams\[0\] "stream1": 7680x7680 at 15 fps \(h264\): test pattern smpte \(videotestsrc\) delivers at most 3840x2160/,
    );
  });

  it('reads what a source element produces through GStreamer (the path of a v4l2 device, here with videotestsrc)', async () => {
    // No /dev/video* on CI: the same query on videotestsrc proves the media process's caps read.
    const caps = await querySourceCaps('videotestsrc');
    expect(caps).toMatch(/^video\/x-raw, format=\(string\)\{ .*I420.* \}, width=\(int\)\[ 1, 2147483647 \]/);
    // Its caps are unbounded, which describes no limit: camd's documented maximum applies instead.
    expect(modesFromCaps(caps)).toEqual([]);
    await expect(querySourceCaps('v4l2src device=/dev/video-none')).rejects.toThrow(/does not open|Cannot identify|not exist|Could not open/);
  });
});
