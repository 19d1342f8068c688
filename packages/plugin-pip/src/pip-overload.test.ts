import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, type TestHost } from '@camd/core/testing';
import pip from './index.js';

// Runs alone (scripts/test.sh RATE_TESTS): it overloads the machine on purpose.
let host: TestHost | undefined;
let hogs: ChildProcess[] = [];
afterEach(async () => {
  for (const h of hogs) h.kill('SIGKILL');
  hogs = [];
  await host?.close();
  host = undefined;
});

/**
 * The compositor times its output by its own cadence. On a machine that cannot keep up (here: three
 * busy processes besides a 1080p60 PiP stream on two cores) it fell behind real time without bound,
 * seconds within seconds; with the clock-keeping QoS probe it skips late frames and the picture stays
 * current.
 */
it('an overloaded compositor skips late frames instead of falling ever further behind real time', async () => {
  host = await createTestHost({
    plugins: [pip],
    config: {
      streams: [
        testStream({ resolution: '1920x1080', fps: 60, bitrate: 4_000_000, preset: 'ultrafast' }),
        testStream({ path: '/stream2', source: 'videotestsrc:ball' }),
      ],
    },
  });
  expect((await putState(host, 'pipEnabled', true)).status).toBe(200);
  const lags: number[] = [];
  let composited = false;
  const consumer = host.host.hub.subscribe('stream1', {
    name: 'lag',
    onFrame: (f) => {
      if (f.width === 1920) lags.push(Date.now() - f.captureTimeMs);
    },
  });
  try {
    // The rebuilt pipeline (with the compositor) delivers, then runs long enough for any drift to show.
    await until(() => lags.length > 0, 30_000, 'frames from the PiP pipeline');
    composited = true;
    for (let i = 0; i < 3; i++) hogs.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    const start = lags.length;
    await new Promise((r) => setTimeout(r, 12_000));
    const late = lags.slice(start);
    expect(late.length).toBeGreaterThan(10);
    // Without the probe the last frames were 5–8 s old here; with it a few hundred ms.
    const last = late.slice(-10);
    expect(Math.max(...last), `lag of the last frames: ${last.map((x) => x.toFixed(0)).join(', ')} ms`).toBeLessThan(2000);
  } finally {
    consumer.close();
    expect(composited).toBe(true);
  }
}, 90_000);
