import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * How to start one of core's child-process entries (the media process). Built JavaScript (`dist/`,
 * what production runs) starts on plain Node. From the workspace's TypeScript sources (tests, a dev
 * checkout) the entry is TypeScript too, and only then is tsx's loader asked for: a built install
 * never loads a transpiler.
 */
export function childEntry(basename: string): { path: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(`./${basename}.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  // --expose-gc: GObjects held by JS wrappers are freed only when V8 collects the wrappers, and V8
  // does not see their native memory; the media process collects on a fixed cadence.
  const execArgv = ['--expose-gc'];
  // The source condition keeps any `@camd/*` import of a source-run child on the sources too.
  if (fromSource) execArgv.push('--conditions=source', '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href);
  return { path, execArgv };
}
