/**
 * Install size and idle memory of a selective install: (a) core + RTSP, (b) every plugin.
 * Builds both bundles with `camd bundle`, starts each on the default streams (/stream1 1080p60, /stream2 720p30; test pattern),
 * waits until healthy, and reads the RSS of the daemon and of its child processes (pipeline workers) from /proc.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle } from '../apps/daemon/src/bundle.js';
import { childPids, startDaemon } from '../apps/daemon/test/daemon-process.js';
import { freePort } from '../packages/core/src/testing/index.js';

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const duMiB = (dir: string) => Number(execFileSync('du', ['-sk', '--apparent-size', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;

export async function main(): Promise<void> {
  const all = readdirSync('packages')
    .filter((p) => p.startsWith('plugin-'))
    .map((p) => `@camd/${p}`);
  const variants: Record<string, [string[], string[]]> = { 'core + rtsp': [['@camd/plugin-rtsp'], ['@camd/plugin-rtsp']], 'all plugins': [all, all] };
  for (const [label, [installed, plugins]] of Object.entries(variants)) {
    const dir = mkdtempSync(join(tmpdir(), 'camd-footprint-'));
    try {
      const out = join(dir, 'camd');
      bundle({ out, plugins: installed, log: () => undefined });
      const rtspPort = await freePort();
      const d = await startDaemon(
        { users: [{ username: 'u', password: 'p', permissions: ['Media_r'] }], plugins, rtsp: { port: rtspPort } },
        { bin: join(out, 'bin/camd.js') },
      );
      await new Promise((r) => setTimeout(r, 5000));
      const workers = childPids(d.child.pid!);
      const daemon = rssKiB(d.child.pid!);
      const workerRss = workers.map(rssKiB).reduce((a, b) => a + b, 0);
      console.log(
        `${label.padEnd(12)} install ${duMiB(out).toFixed(1)} MiB (node_modules ${duMiB(join(out, 'node_modules')).toFixed(1)} MiB) | idle RSS: daemon ${(daemon / 1024).toFixed(1)} MiB, ${workers.length} child processes (pipeline workers) ${(workerRss / 1024).toFixed(1)} MiB`,
      );
      await d.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
