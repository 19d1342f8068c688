import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Writes a JSON document so that a crash (kill -9, power loss) at any moment leaves either the old
 * or the new document: write a temp file, fsync it, rename it over the target, fsync the folder.
 * Writes are serialised; a write requested while one is in flight is coalesced into the next one.
 */
export class AtomicJsonFile<T> {
  private chain: Promise<void> = Promise.resolve();
  private pending: { value: T; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } | null = null;
  private counter = 0;

  constructor(readonly path: string) {}

  /** Reads the document, or `undefined` when it does not exist yet. A corrupt file is an error. */
  readSync(): T | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return JSON.parse(text) as T;
  }

  /** Resolves once `value` (or a newer value) is durably on disk. */
  write(value: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.pending) {
        this.pending.value = value;
        this.pending.waiters.push({ resolve, reject });
        return;
      }
      this.pending = { value, waiters: [{ resolve, reject }] };
      this.chain = this.chain.then(async () => {
        const job = this.pending!;
        this.pending = null;
        try {
          await this.writeNow(job.value);
          for (const w of job.waiters) w.resolve();
        } catch (e) {
          for (const w of job.waiters) w.reject(e);
        }
      });
    });
  }

  private async writeNow(value: T): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${process.pid}.${++this.counter}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(value, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}
