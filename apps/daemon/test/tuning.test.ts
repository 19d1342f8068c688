import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { testStream } from '@camd/core/testing';
import { LAUNCHED_ENV, missingTuning, TUNING } from '../src/tuning.js';
import { childPids, startDaemon, type DaemonProcess } from './daemon-process.js';

describe('missingTuning', () => {
  it('names what the environment and the Node flags lack, and respects what the user set', () => {
    expect(missingTuning({}, [])).toEqual({ env: TUNING.env, nodeFlags: TUNING.nodeFlags });
    expect(missingTuning({ ...TUNING.env }, ['--max-semi-space-size=2'])).toBeUndefined();
    // Other values are the user's choice; V8 takes either spelling, and NODE_OPTIONS counts.
    expect(missingTuning({ MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '65536' }, ['--max_semi_space_size=8'])).toBeUndefined();
    expect(missingTuning({ ...TUNING.env, NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=1' }, [])).toBeUndefined();
    expect(missingTuning({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '' }, ['--max-semi-space-size=2'])).toEqual({
      env: { MALLOC_MMAP_THRESHOLD_: '1048576' },
      nodeFlags: [],
    });
    expect(missingTuning({ ...TUNING.env }, ['--trace-gc'])).toEqual({ env: {}, nodeFlags: ['--max-semi-space-size=2'] });
  });
});

const environ = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  ) as Record<string, string>;
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
const gone = (pids: number[]) => expect.poll(() => pids.filter((p) => existsSync(`/proc/${p}`)), { timeout: 15_000, interval: 100 }).toEqual([]);

const running: DaemonProcess[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop('SIGKILL');
});

/** `node bin/camd.js` under this process: its one child is the tuned daemon, whose children are media processes. */
async function untuned(opts: { detached?: boolean } = {}) {
  const d = await startDaemon({ streams: [testStream()] }, { launch: 'node', ...opts });
  running.push(d);
  const launched = childPids(d.child.pid!);
  expect(launched, 'the launcher starts one daemon').toHaveLength(1);
  const daemon = launched[0]!;
  const media = childPids(daemon);
  expect(media.length, 'media processes under the daemon').toBeGreaterThan(0);
  return { d, daemon, media };
}

describe('`node bin/camd.js` (no #! line): the daemon relaunches itself with its tuning', () => {
  it('runs tuned, its media process without the malloc tuning; one Ctrl-C stops all of it cleanly', async () => {
    const { d, daemon, media } = await untuned({ detached: true });
    expect(cmdline(d.child.pid!)).not.toContain('--max-semi-space-size=2');
    expect(cmdline(daemon)).toContain('--max-semi-space-size=2');
    expect(environ(daemon)).toMatchObject(TUNING.env);
    for (const pid of media) {
      expect(cmdline(pid).join(' ')).toMatch(/media-host/);
      expect(Object.keys(environ(pid))).not.toEqual(expect.arrayContaining(['MALLOC_ARENA_MAX']));
      expect(Object.keys(environ(pid))).not.toEqual(expect.arrayContaining(['MALLOC_MMAP_THRESHOLD_']));
      expect(Object.keys(environ(pid))).not.toEqual(expect.arrayContaining([LAUNCHED_ENV]));
    }
    expect((await fetch(`${d.baseUrl}/api/health`)).status).toBe(200);

    // A terminal's Ctrl-C: SIGINT to the foreground process group. The daemon gets it once (a second
    // SIGINT would make it exit at once with 130), stops its pipelines, and the launcher exits with its code.
    const exited = new Promise<number | null>((r) => d.child.once('exit', (code) => r(code)));
    process.kill(-d.child.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(d.output()).toMatch(/"signal":"SIGINT".*"msg":"stopping"/);
    expect(d.output()).not.toContain('second signal');
    await gone([daemon, ...media]);
  });

  it('the daemon stops when its launcher is killed, and the launcher dies of what killed its daemon', async () => {
    const first = await untuned();
    first.d.child.kill('SIGKILL');
    await gone([first.daemon, ...first.media]);

    const second = await untuned();
    const exited = new Promise<NodeJS.Signals | null>((r) => second.d.child.once('exit', (_code, signal) => r(signal)));
    process.kill(second.daemon, 'SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await gone(second.media);
  });
});
