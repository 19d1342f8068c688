import { execFile } from 'node:child_process';
import type { Logger } from '@camd/core';

/** How long after start the daemon reports ready even though a stream does not play yet. */
export const READY_DEADLINE_MS = 60_000;
const POLL_MS = 250;

export interface ReadinessOptions {
  health: () => { healthy: boolean; checks: Array<{ name: string; healthy: boolean; detail?: string }> };
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  deadlineMs?: number;
  /** Sends one sd_notify message (default: `systemd-notify`). */
  send?: (args: string[]) => Promise<void>;
}

/**
 * systemd readiness (`Type=notify`): once `/api/health` is first healthy (every stream delivers
 * frames, every plugin set up), `READY=1` goes to `$NOTIFY_SOCKET`. Node has no unix datagram
 * sockets, so `systemd-notify` (a child: the unit needs `NotifyAccess=all`) sends it; it waits
 * until systemd has processed the message, so the message is not lost when the child exits first.
 * A daemon that is not healthy within `deadlineMs` reports ready anyway, with a STATUS naming what
 * fails: its API is up and its pipelines keep retrying, and a camera that is unplugged must not make
 * systemd restart the whole daemon in a loop. Without `NOTIFY_SOCKET` this does nothing.
 * Returns a function that stops waiting (on shutdown).
 */
export function notifyWhenHealthy(opts: ReadinessOptions): () => void {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return () => undefined;
  const send = opts.send ?? ((args: string[]) => systemdNotify(args, env));
  const started = Date.now();
  const deadline = opts.deadlineMs ?? READY_DEADLINE_MS;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    timer = undefined;
    const h = opts.health();
    const late = Date.now() - started >= deadline;
    if (!h.healthy && !late) {
      timer = setTimeout(check, POLL_MS);
      return;
    }
    const failing = h.checks.filter((c) => !c.healthy).map((c) => (c.detail ? `${c.name}: ${c.detail}` : c.name));
    const status = h.healthy ? 'healthy: streams playing' : `running, not healthy after ${deadline / 1000} s: ${failing.join('; ')}`.slice(0, 400);
    send(['--ready', `--status=${status}`]).then(
      () => opts.logger.info({ healthy: h.healthy, ms: Date.now() - started }, 'systemd: ready'),
      (err: Error) => opts.logger.warn({ err: err.message }, 'systemd: systemd-notify failed (the unit needs NotifyAccess=all)'),
    );
  };
  timer = setTimeout(check, 0);
  return () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
}

function systemdNotify(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('systemd-notify', args, { env, timeout: 10_000 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${err.message} ${stderr}`.trim())) : resolve(),
    );
  });
}
