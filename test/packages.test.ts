import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const PACKAGES = ['packages', 'apps', 'examples'].flatMap((g) =>
  readdirSync(join(ROOT, g))
    .map((d) => join(ROOT, g, d))
    .filter((d) => existsSync(join(d, 'package.json'))),
);

/** Every file a package.json names as an entry point: exports targets, bin, main, types. */
function entryPoints(pkg: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(pkg.exports);
  walk(pkg.bin);
  walk(pkg.main);
  walk(pkg.types);
  return out.filter((p) => !p.includes('*')).map((p) => posix.normalize(p));
}

describe('published packages (pnpm pack)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camd-pack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(PACKAGES.map((p) => [p.slice(ROOT.length + 1), p]))(
    '%s: every entry point and relative import exists in the tarball, and it ships built JavaScript only',
    (_name, pkgDir) => {
      const dest = join(dir, posix.basename(pkgDir));
      // `pnpm pack` runs the package's prepack (`tsc -b`) and applies publishConfig, as `pnpm publish` does.
      try {
        execFileSync('pnpm', ['pack', '--pack-destination', dest], { cwd: pkgDir, stdio: 'pipe', encoding: 'utf8' });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`pnpm pack failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
      const tgz = join(dest, readdirSync(dest).find((f) => f.endsWith('.tgz'))!);
      const files = new Set(
        execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' })
          .trim()
          .split('\n')
          .map((f) => f.replace(/^package\//, '')),
      );
      const pkg = JSON.parse(execFileSync('tar', ['xzf', tgz, '-O', 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;

      const entries = entryPoints(pkg);
      expect(entries.length).toBeGreaterThan(1);
      expect(
        entries.filter((e) => !files.has(e)),
        'entry points missing from the tarball',
      ).toEqual([]);
      expect(JSON.stringify(pkg.exports)).not.toContain('"source"');
      expect(JSON.stringify(pkg)).not.toContain('workspace:');
      expect([...files].filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.tsbuildinfo') || /\.test\./.test(f))).toEqual([]);
      expect(JSON.stringify({ ...(pkg.dependencies as object), ...(pkg.optionalDependencies as object) })).not.toMatch(/"(tsx|esbuild|typescript|ts-node)"/);

      // Relative imports between the built files (a module left out of the build would show here).
      const missing: string[] = [];
      execFileSync('tar', ['xzf', tgz, '-C', dest]);
      for (const f of files) {
        if (!/\.(js|d\.ts)$/.test(f)) continue;
        const src = readFileSync(join(dest, 'package', f), 'utf8');
        for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
          const target = posix.normalize(posix.join(posix.dirname(f), m[1]!));
          if (!files.has(target) && !files.has(target.replace(/\.js$/, '.d.ts'))) missing.push(`${f} -> ${m[1]}`);
        }
      }
      expect(missing).toEqual([]);
    },
  );

  it('pnpm build drops what dist/ holds for a source that is gone (tsc never deletes; a bundle or tarball would ship it)', () => {
    const dist = join(ROOT, 'packages/plugin-pip/dist');
    const stale = ['camd-removed-module.js', 'camd-removed-module.d.ts', 'camd-removed-module.js.map', 'camd-removed-dir/entry.js'];
    mkdirSync(join(dist, 'camd-removed-dir'), { recursive: true });
    for (const f of stale) writeFileSync(join(dist, f), '');
    try {
      execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), join(ROOT, 'packages/plugin-pip/tsconfig.build.json')], { stdio: 'pipe' });
      expect(stale.filter((f) => existsSync(join(dist, f)))).toEqual([]);
      expect(existsSync(join(dist, 'camd-removed-dir'))).toBe(false);
      expect(existsSync(join(dist, 'index.js'))).toBe(true);
    } finally {
      rmSync(join(dist, 'camd-removed-dir'), { recursive: true, force: true });
      for (const f of stale) rmSync(join(dist, f), { force: true });
    }
  });
});
