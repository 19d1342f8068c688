import { spawn } from 'node:child_process';

/**
 * How the daemon runs (bin/camd.js's `#!` line, scripts/start.sh and packaging/camd.service say the
 * same), measured on the default config with two RTSP readers and a stats poller:
 * - two malloc arenas, not glibc's 8 per core: about 12 MiB less resident;
 * - blocks of 1 MiB and more always mmapped: each password check (scrypt, 16 MiB) used to leave its
 *   block in an arena, once glibc had raised its mmap threshold (+30 MiB that stayed);
 * - a young generation of at most 2 × 2 MiB instead of 2 × 16 MiB: media bytes live outside V8's heap,
 *   so scavenges stay short.
 * glibc reads its variables once, as the process starts, and V8 sizes its heap as the isolate is
 * created: neither can be applied from inside a running Node. (The media process must not get the
 * malloc settings: media-process.ts takes them out of its environment.)
 */
export const TUNING = {
  env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' },
  nodeFlags: ['--max-semi-space-size=2'],
} as const;

/** Set in the daemon a launcher started, so that it watches its launcher and never launches again. */
export const LAUNCHED_ENV = 'CAMD_LAUNCHED_BY';

export interface MissingTuning {
  env: Record<string, string>;
  nodeFlags: string[];
}

/**
 * What of TUNING this process lacks, or undefined when it has all of it. A value the user set
 * (another arena count, another semi-space size, in the environment, on node's command line or in
 * NODE_OPTIONS) counts as set: it is theirs to choose.
 */
export function missingTuning(env: NodeJS.ProcessEnv, execArgv: readonly string[]): MissingTuning | undefined {
  const missing: MissingTuning = { env: {}, nodeFlags: [] };
  for (const [k, v] of Object.entries(TUNING.env)) if (!env[k]) missing.env[k] = v;
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map((a) => a.split('=')[0]!.replace(/_/g, '-'));
  for (const flag of TUNING.nodeFlags) if (!given.includes(flag.split('=')[0]!)) missing.nodeFlags.push(flag);
  return Object.keys(missing.env).length || missing.nodeFlags.length ? missing : undefined;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs `script args` again in a Node with the missing tuning, once, and mirrors it: resolves with its
 * exit code, or dies of the signal that ended it. Needed when the daemon was started as
 * `node bin/camd.js` (node ignores the `#!` line) or through a wrapper that drops it: measured, core +
 * RTSP with both default streams held 234 MiB PSS that way, 185 MiB tuned.
 *
 * The daemon gets a session of its own (setsid), so a terminal's Ctrl-C reaches it once, through this
 * launcher, and not a second time directly (a second signal makes the daemon exit at once). It keeps
 * stdin, stdout and stderr (a terminal stays a terminal: pretty logs) and the environment (systemd's
 * NOTIFY_SOCKET: readiness comes from the daemon's child, which `NotifyAccess=all` accepts). An IPC
 * channel ties it to this launcher: when the launcher dies, even of SIGKILL, the daemon stops as on
 * SIGTERM (bin/camd.js), and its media processes with it.
 */
export function relaunchTuned(script: string, args: readonly string[], missing: MissingTuning): Promise<never> {
  const child = spawn(process.execPath, [...process.execArgv, ...missing.nodeFlags, script, ...args], {
    env: { ...process.env, ...missing.env, [LAUNCHED_ENV]: String(process.pid) },
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward(s));
  return new Promise<never>(() => {
    child.on('error', (err) => {
      process.stderr.write(`camd: could not start the tuned daemon: ${err.message}\n`);
      process.exit(1);
    });
    child.on('exit', (code, signal) => {
      if (code !== null) process.exit(code);
      for (const s of FORWARDED) process.removeAllListeners(s);
      process.kill(process.pid, signal ?? 'SIGTERM');
    });
  });
}
