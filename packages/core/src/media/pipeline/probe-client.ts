import { fork } from 'node:child_process';
import type { Logger } from 'pino';
import { CamdError, ErrorCodes } from '../../errors.js';
import type { ElementRegistry, ElementTrial, TrialRequest } from '../registry.js';
import type { StreamSettings } from '../types.js';
import type { DeviceDirectory } from './device-directory.js';
import type { FromMediaProcess, RawDevice } from './protocol.js';
import { childEntry } from './worker-path.js';

/**
 * How long one element's trial may take, from the moment the media process says it begins: a
 * hardware encoder opens its device and encodes two 640x480 frames, well under a second on every
 * board. Past it the process is killed and the trial fails "trial timed out" (a driver can block in
 * open() or on its first frame for good).
 */
export const TRIAL_DEADLINE_MS = 5000;
/** The media process's own wait for a trial's end of stream, inside the deadline (then it answers why itself). */
const TRIAL_BUS_WAIT_SHARE = 0.7;
/** Starting GStreamer and reading the cameras (GstDeviceMonitor asks every provider). */
const DEVICES_DEADLINE_MS = 20_000;

export interface ProbeResult {
  devices?: RawDevice[];
  trials: ElementTrial[];
}

/**
 * The cameras GstDeviceMonitor sees (with `devices`) and one-frame trials of elements (hardware
 * encoders and decoders, present but maybe without their device), in short-lived media processes.
 * Each trial has a deadline: a trial that passes it, or whose element crashes the process, fails with
 * the reason, and a new process runs the trials after it. Every process dies with the daemon even
 * while a trial blocks it (parent-watch.ts).
 */
export async function probeMedia(
  request: { devices: boolean; trials: readonly TrialRequest[] },
  opts: { trialDeadlineMs?: number } = {},
): Promise<ProbeResult> {
  const deadline = opts.trialDeadlineMs ?? TRIAL_DEADLINE_MS;
  const out: ProbeResult = { trials: [] };
  let devices = request.devices;
  let rest = [...request.trials];
  while (devices || rest.length) {
    const run = await probeOnce(devices, rest, deadline);
    if (run.devices) out.devices = run.devices;
    devices = false;
    out.trials.push(...run.trials);
    rest = rest.slice(run.trials.length);
    if (!run.stuck) break;
    out.trials.push({ factory: rest[0]!.factory, ok: false, reason: run.stuck });
    rest = rest.slice(1);
  }
  return out;
}

/** One media process: the trials it finished, and why the one it was running did not end (`stuck`). */
function probeOnce(devices: boolean, trials: readonly TrialRequest[], deadlineMs: number): Promise<ProbeResult & { stuck?: string }> {
  return new Promise((resolve, reject) => {
    const entry = childEntry('media-host');
    const arg = JSON.stringify({ devices, trials, trialTimeoutMs: Math.round(deadlineMs * TRIAL_BUS_WAIT_SHARE) });
    const child = fork(entry.path, ['probe', arg], { execArgv: entry.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const got: ProbeResult = { trials: [] };
    let trying: string | undefined;
    let stderr = '';
    let settled = false;
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const kill = () => child.kill('SIGKILL');
    let timer = setTimeout(() => {
      kill();
      finish(() => reject(new Error(`probing cameras and encoders timed out after ${DEVICES_DEADLINE_MS} ms`)));
    }, DEVICES_DEADLINE_MS);
    child.on('message', (m: FromMediaProcess) => {
      if (m.type === 'devices') got.devices = m.devices;
      else if (m.type === 'trying') {
        trying = m.factory;
        clearTimeout(timer);
        timer = setTimeout(() => {
          kill();
          finish(() => resolve({ ...got, stuck: `trial timed out after ${deadlineMs} ms (its process was killed)` }));
        }, deadlineMs);
      } else if (m.type === 'trial') {
        trying = undefined;
        got.trials.push(m.trial);
      } else if (m.type === 'probe') finish(() => resolve(got));
    });
    child.on('exit', (code, signal) => {
      const last = stderr.trim().split('\n').slice(-3).join(' | ');
      // An element that crashes the process fails its trial; the next trials run in a new process.
      if (trying) finish(() => resolve({ ...got, stuck: `the trial crashed its process (${signal ?? `exit ${code}`}): ${last}` }));
      else finish(() => reject(new Error(`probing cameras and encoders failed (${signal ?? `exit ${code}`}): ${last}`)));
    });
  });
}

/**
 * At start, in one short-lived media process: the cameras the streams read (GstDeviceMonitor), and
 * a one-frame trial of every hardware encoder and decoder present (its element may exist while its
 * device node is missing). A failed trial is logged; the choice then falls through to the next.
 */
export async function probeAtStart(o: {
  streams: readonly StreamSettings[];
  registry: ElementRegistry;
  devices: DeviceDirectory;
  logger: Logger;
}): Promise<void> {
  const known = o.registry.encoderCandidates().map((c) => c.factory);
  for (const s of o.streams) {
    if (s.encoder && !known.includes(s.encoder))
      throw new CamdError(
        ErrorCodes.CONFIG,
        `config streams "${s.name}".encoder: "${s.encoder}" is not an encoder camd knows (known: ${[...new Set(known)].join(', ')})`,
      );
  }
  const devices = o.streams.some((s) => s.source.kind === 'device');
  const trials = o.registry.trialRequests();
  if (!devices && trials.length === 0) return;
  const result = await probeMedia({ devices, trials });
  o.registry.recordTrials(result.trials);
  for (const t of result.trials) {
    if (t.ok) o.logger.info({ element: t.factory, ms: t.ms }, `${t.factory} passed its trial encode`);
    else o.logger.warn({ element: t.factory, reason: t.reason }, `${t.factory} failed its trial encode (${t.reason}); the next candidate is used`);
  }
  if (result.devices) await o.devices.accept(result.devices);
}
