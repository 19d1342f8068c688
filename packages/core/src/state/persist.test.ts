import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// A writer process that sets the state as fast as it can and prints each acknowledged value.
const WRITER = `
import { AtomicJsonFile } from ${JSON.stringify(new URL('./persist.ts', import.meta.url).pathname)};
const f = new AtomicJsonFile(process.argv[1] + '/state.json');
const pad = 'x'.repeat(20000);
for (let i = 1; ; i++) {
  await f.write({ counter: i, pad });
  process.stdout.write(i + '\\n');
}
`;

describe('AtomicJsonFile', () => {
  it('loses no acknowledged write when the writer is killed with SIGKILL mid-write', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'camd-persist-'));
      dirs.push(dir);
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let lastAck = 0;
      const rl = createInterface({ input: child.stdout! });
      await new Promise<void>((resolve) => {
        rl.on('line', (l) => {
          lastAck = Number(l);
          if (lastAck >= 30 + round * 17) {
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      await new Promise((r) => child.once('exit', r));
      const doc = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
      // Whatever was acknowledged is on disk (a later, unacknowledged write may also have landed).
      expect(doc.counter).toBeGreaterThanOrEqual(lastAck);
      expect(doc.pad.length).toBe(20000);
      expect(readdirSync(dir).filter((f) => f === 'state.json')).toHaveLength(1);
    }
  });
});
