/**
 * Memory of the daemon by how it is started: as a program (`apps/daemon/bin/camd.js`, its `#!` line
 * sets the malloc and V8 tuning; start.sh and camd.service do the same) or as `node
 * apps/daemon/bin/camd.js` (node skips that line: the daemon relaunches itself tuned, under a
 * launcher process). PSS of the whole process tree (launcher, daemon, media process) 12 s after it is
 * healthy, on the default streams (1080p60 + 720p30 test patterns): core + RTSP, and every plugin of
 * the default config with PiP on. Built JS (`pnpm build` first).
 */
import { readFileSync } from 'node:fs';
import { basicAuth, freePort, putState } from '../packages/core/src/testing/index.js';
import { startDaemon, type Launch } from '../apps/daemon/test/daemon-process.js';
import { daemonMode, DEFAULT_CONFIG } from './camd.js';
import { MiB, treeMemory } from './proc.js';

const ADMIN = { username: 'bench', password: 'bench-pass-1', permissions: ['Admin'] };
const SETTLE_S = 12;

async function measure(label: string, launch: Launch, plugins: unknown[], pip: boolean): Promise<void> {
  const defaults = JSON.parse(readFileSync(DEFAULT_CONFIG, 'utf8')) as { rtsp: Record<string, unknown> };
  const rtsp = { ...defaults.rtsp, port: await freePort() };
  const d = await startDaemon({ users: [ADMIN], plugins, rtsp }, { launch, env: { CAMD_LOG_LEVEL: 'warn' } });
  try {
    if (pip) {
      const r = await putState(d, 'pipEnabled', true, ADMIN);
      if (r.status !== 200) throw new Error(`PUT pipEnabled: ${r.status}`);
    }
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const health = await fetch(`${d.baseUrl}/api/health`, { headers: { authorization: basicAuth(ADMIN) } });
    const mem = treeMemory(d.child.pid!);
    const parts = mem.processes.map((p) => `${p.label.replace(/^node /, '')} ${MiB(p.pssKiB).toFixed(0)}`).join(' + ');
    console.log(`${label.padEnd(22)} ${launch.padEnd(8)} PSS ${MiB(mem.pssKiB).toFixed(0)} MiB (${parts}); health ${health.status}`);
  } finally {
    await d.stop();
  }
}

export async function main(): Promise<void> {
  console.log(`(${daemonMode()}; PSS ${SETTLE_S} s after healthy)`);
  const all = (JSON.parse(readFileSync(DEFAULT_CONFIG, 'utf8')) as { plugins: unknown[] }).plugins;
  for (const launch of ['program', 'node'] as const) {
    await measure('core + RTSP', launch, ['@camd/plugin-rtsp'], false);
    await measure('default plugins + PiP', launch, all, true);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
