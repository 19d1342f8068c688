import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The worker's entry file (TypeScript, run through tsx's loader). */
export const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** Node flags that let the worker run TypeScript from any working directory. */
export function workerExecArgv(): string[] {
  const tsx = createRequire(import.meta.url).resolve('tsx/esm');
  // --expose-gc: GObjects (pixbufs, buffers) held by JS wrappers are freed only when V8 collects the
  // wrappers, and V8 does not see their native memory; the worker collects on a fixed cadence.
  return ['--expose-gc', '--import', pathToFileURL(tsx).href];
}
