import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The camd workspace (a checkout: the folder with pnpm-workspace.yaml) that holds `from`, if any. */
export function workspaceRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Package name → its folder, for every package of the workspace (packages/, apps/, examples/). */
export function workspacePackages(root: string): Map<string, string> {
  const packages = new Map<string, string>();
  for (const group of ['packages', 'apps', 'examples']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const d of readdirSync(dir)) {
      const pj = join(dir, d, 'package.json');
      if (existsSync(pj)) packages.set(readPackage(pj).name, join(dir, d));
    }
  }
  return packages;
}

export interface PackageJson {
  name: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export const readPackage = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
