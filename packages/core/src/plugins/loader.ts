import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { CamdError, ErrorCodes } from '../errors.js';
import { PLUGIN_API_VERSION, type PluginDefinition } from './contract.js';

export interface ResolvedPlugin {
  def: PluginDefinition<any>;
  /** The package's version from its package.json, when it came from a package. */
  version?: string;
  /** Where it was loaded from. */
  path?: string;
}

/**
 * Where a plugin package's entry is, found by name the way Node would from each of `searchFrom`
 * (folders), in order: `file` is undefined when none has it, `tried` the folders that did not.
 */
export function locatePlugin(name: string, searchFrom: readonly string[]): { file?: string; tried: string[] } {
  const tried: string[] = [];
  for (const dir of searchFrom) {
    try {
      return { file: createRequire(join(resolve(dir), 'noop.js')).resolve(name), tried };
    } catch {
      tried.push(dir);
    }
  }
  return { tried };
}

/**
 * Finds a plugin package by name (locatePlugin), imports it and checks its definition. Third-party
 * packages load exactly like camd's own.
 */
export async function resolvePlugin(name: string, searchFrom: readonly string[]): Promise<ResolvedPlugin> {
  const { file, tried } = locatePlugin(name, searchFrom);
  if (!file) {
    throw new CamdError(
      ErrorCodes.PLUGIN_NOT_FOUND,
      `plugin "${name}" is not installed (looked from ${tried.join(', ')}); install the package or remove it from "plugins"`,
      { plugin: name },
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CamdError(ErrorCodes.PLUGIN_INVALID, `plugin "${name}" failed to load: ${(err as Error).message}`, { plugin: name, cause: err });
  }
  const def = (mod.default ?? mod.plugin) as PluginDefinition<any> | undefined;
  checkDefinition(def, name);
  return { def, version: packageVersion(file, name), path: file };
}

/** Throws unless `def` is a plugin definition written for this host's plugin API. */
export function checkDefinition(def: unknown, name: string): asserts def is PluginDefinition<any> {
  const d = def as Partial<PluginDefinition> | undefined;
  if (!d || typeof d !== 'object' || typeof d.name !== 'string' || typeof d.setup !== 'function' || typeof d.apiVersion !== 'number') {
    throw new CamdError(ErrorCodes.PLUGIN_INVALID, `plugin "${name}" does not export a plugin definition (default export with name, apiVersion and setup)`, {
      plugin: name,
    });
  }
  if (d.apiVersion !== PLUGIN_API_VERSION) {
    throw new CamdError(
      ErrorCodes.PLUGIN_API_VERSION,
      `plugin "${d.name}" was written for plugin API version ${d.apiVersion}, but this camd provides plugin API version ${PLUGIN_API_VERSION}`,
      { plugin: d.name, details: { plugin: d.apiVersion, host: PLUGIN_API_VERSION } },
    );
  }
}

/** Validates and completes (defaults) a plugin's options against its schema. */
export function validateOptions(def: PluginDefinition<any>, options: Record<string, unknown> | undefined): Record<string, unknown> {
  const opts = structuredClone(options ?? {});
  if (!def.optionsSchema) return opts;
  const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: false });
  const validate = ajv.compile(def.optionsSchema);
  if (!validate(opts)) {
    const e = validate.errors![0]!;
    const path = e.instancePath.replace(/\//g, '.');
    throw new CamdError(ErrorCodes.PLUGIN_OPTIONS, `plugin "${def.name}" options${path}: ${e.message}`, { plugin: def.name, details: validate.errors });
  }
  return opts;
}

/** Orders plugins so that each comes after the ones it `requires`; a missing requirement is an error. */
export function orderByRequirements<T extends { def: PluginDefinition<any> }>(plugins: T[]): T[] {
  const byName = new Map(plugins.map((p) => [p.def.name, p]));
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: T, chain: string[]) => {
    const s = state.get(p.def.name);
    if (s === 'done') return;
    if (s === 'visiting')
      throw new CamdError(ErrorCodes.PLUGIN_INVALID, `plugins require each other in a cycle: ${[...chain, p.def.name].join(' → ')}`, { plugin: p.def.name });
    state.set(p.def.name, 'visiting');
    for (const r of p.def.requires ?? []) {
      const dep = byName.get(r);
      if (!dep)
        throw new CamdError(ErrorCodes.PLUGIN_NOT_FOUND, `plugin "${p.def.name}" requires plugin "${r}", which is not in "plugins"`, { plugin: p.def.name });
      visit(dep, [...chain, p.def.name]);
    }
    state.set(p.def.name, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}

function packageVersion(file: string, name: string): string | undefined {
  let dir = dirname(file);
  for (let i = 0; i < 8; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const pkg = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version;
      } catch {
        return undefined;
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}
