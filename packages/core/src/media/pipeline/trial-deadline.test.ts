import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestHost, testStream, until, useStandins, type TestHost } from '../../testing/index.js';
import { hardwareEncoderCandidates } from './hw-encoders.js';
import { encoderTrial } from './element-trials.js';
import { probeMedia } from './probe-client.js';

/**
 * A trial whose element blocks for good (the V4L2 stand-in's node reads "hang": it blocks in open(),
 * as a wedged driver does) must neither hold up the start nor outlive the daemon: it is killed at its
 * deadline, and its media process dies with its parent even while blocked in native code.
 */
const standins = useStandins({ nodes: ['renderD128'] });
standins.node('video11', 'hang');
afterAll(() => standins.cleanup());

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

const trial = (factory: string) => encoderTrial(hardwareEncoderCandidates().find((c) => c.factory === factory)!);

/** Alive, not a zombie waiting for its new parent to reap it. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** Probe processes (`media-host probe`) started with this test's stand-ins (their environment names its folder). */
function ourProbes(): number[] {
  const mark = `CAMD_STANDIN_NODES=${standins.nodes}\0`;
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!/media-host\.[jt]s\0probe\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      if (`${readFileSync(`/proc/${pid}/environ`, 'utf8')}\0`.includes(mark) && alive(Number(pid))) out.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

const blocked = join(standins.nodes, 'video11.blocked');

describe('trial deadline', () => {
  it('a trial that blocks is killed at its deadline ("trial timed out"); the trials after it still run; no process is left', async () => {
    const r = await probeMedia({ devices: false, trials: [trial('v4l2h264enc'), trial('vah264enc')] }, { trialDeadlineMs: 2000 });
    expect(existsSync(blocked)).toBe(true); // it really blocked in the element
    expect(r.trials).toEqual([
      { factory: 'v4l2h264enc', ok: false, reason: 'trial timed out after 2000 ms (its process was killed)' },
      expect.objectContaining({ factory: 'vah264enc', ok: true }),
    ]);
    await expect.poll(ourProbes, { timeout: 5000 }).toEqual([]);
  });

  it('at start: the blocked encoder is logged "trial timed out" and the stream plays on the next family', async () => {
    host = await createTestHost({ config: { streams: [testStream()] } });
    const h = host;
    const s = await until(async () => {
      const st = (await (await h.fetch('/api/stats')).json()) as Record<string, { state: string; encoder: { element: string; reason: string } }>;
      return st.stream1?.state === 'playing' && st.stream1;
    }, 40_000);
    expect(s.encoder.element).toBe('vah264enc');
    expect(s.encoder.reason).toMatch(/after v4l2h264enc failed its trial encode \(trial timed out after \d+ ms/);
    expect(host.recentLog()).toMatch(
      /v4l2h264enc failed its trial encode \(trial timed out after \d+ ms \(its process was killed\)\); the next candidate is used/,
    );
  });

  it('a probe blocked in a trial dies with its parent, even on SIGKILL', async () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;
    const client = pathToFileURL(join(import.meta.dirname, 'probe-client.ts')).href;
    const script = `import { probeMedia } from ${JSON.stringify(client)};
      await probeMedia({ devices: false, trials: [JSON.parse(process.env.TRIAL)] }, { trialDeadlineMs: 600000 });`;
    rmSync(blocked, { force: true });
    const parent = spawn(process.execPath, ['--conditions=source', '--import', tsx, '--input-type=module', '-e', script], {
      env: { ...process.env, TRIAL: JSON.stringify(trial('v4l2h264enc')) },
      stdio: 'ignore',
    });
    try {
      // The media process is inside the element's open(), where no IPC event reaches its JavaScript.
      await until(() => existsSync(blocked) && ourProbes().length > 0, 20_000, 'the trial blocked');
      const children = ourProbes();
      parent.kill('SIGKILL');
      expect(children.length).toBeGreaterThan(0);
      await expect.poll(() => children.filter(alive), { timeout: 5000 }).toEqual([]);
    } finally {
      parent.kill('SIGKILL');
      // Never leave one behind, even when this test fails.
      for (const pid of ourProbes()) process.kill(pid, 'SIGKILL');
    }
  });
});
