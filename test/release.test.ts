import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const CHANGESET = join(ROOT, 'node_modules/@changesets/cli/bin.js');

describe('releases (changesets)', () => {
  it('version every package independently, write each CHANGELOG, and bump no plugin major for a core minor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'camd-release-'));
    try {
      for (const f of ['package.json', 'pnpm-workspace.yaml', '.changeset', 'packages', 'apps', 'examples']) {
        cpSync(join(ROOT, f), join(dir, f), { recursive: true, filter: (p) => !p.includes('node_modules') });
      }
      const before = versions(dir);
      execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
      execFileSync(process.execPath, [CHANGESET, 'version'], { cwd: dir, stdio: 'pipe' });
      const after = versions(dir);
      const bumped = Object.keys(after).filter((n) => after[n] !== before[n]);
      expect(bumped.length).toBeGreaterThan(0);
      for (const name of bumped) {
        const dirOf = packageDir(dir, name);
        expect(existsSync(join(dirOf, 'CHANGELOG.md')), `${name} CHANGELOG`).toBe(true);
        expect(readFileSync(join(dirOf, 'CHANGELOG.md'), 'utf8')).toContain(`## ${after[name]}`);
        // Core moving within 0.x keeps every plugin's peer range satisfied: no plugin is forced to a major.
        expect(after[name]!.split('.')[0], name).toBe(before[name]!.split('.')[0]);
      }
      expect(readdirSync(join(dir, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function packageDir(root: string, name: string): string {
  for (const group of ['packages', 'apps', 'examples']) {
    for (const d of readdirSync(join(root, group))) {
      const pj = join(root, group, d, 'package.json');
      if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === name) return join(root, group, d);
    }
  }
  throw new Error(`no package ${name}`);
}

function versions(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const group of ['packages', 'apps', 'examples']) {
    for (const d of readdirSync(join(root, group))) {
      const pj = join(root, group, d, 'package.json');
      if (existsSync(pj)) {
        const p = JSON.parse(readFileSync(pj, 'utf8')) as { name: string; version: string };
        out[p.name] = p.version;
      }
    }
  }
  return out;
}
