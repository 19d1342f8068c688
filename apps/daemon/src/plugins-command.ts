import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { CamdError, CamdHost, type CamdConfig, locatePlugin, type Logger, pluginEntries, type PluginListing } from '@camd/core';
import { readPackage, workspacePackages, workspaceRoot } from './workspace.js';

export type PluginReport =
  | (PluginListing & { installed: true })
  /** Installed, but the plugins could not be set up (an invalid package, a required plugin failing). */
  | { name: string; installed: true; error: string }
  | { name: string; installed: false; optional: boolean; install: string };

/**
 * How to install plugin `name` for the daemon installed at `appDir`, as one command (and where to
 * run it): in a checkout through the workspace (pnpm links every package the daemon depends on into
 * apps/daemon, where the daemon looks), in an npm install beside the daemon, in a bundle by
 * rebuilding it.
 */
export function installCommand(name: string, appDir: string): string {
  const root = workspaceRoot(appDir);
  if (root) {
    const daemon = readPackage(join(appDir, 'package.json'));
    if ({ ...daemon.dependencies, ...daemon.devDependencies, ...daemon.optionalDependencies }[name]) return `cd ${root} && pnpm install && pnpm build`;
    if (workspacePackages(root).has(name)) return `cd ${root} && pnpm --filter @camd/daemon add -D ${name}@workspace:* && pnpm build`;
    return `cd ${root} && pnpm --filter @camd/daemon add -D ${name}`;
  }
  const nm = `${sep}node_modules${sep}`;
  const at = appDir.lastIndexOf(nm);
  if (at >= 0) {
    const prefix = appDir.slice(0, at);
    // `npm install -g` puts packages in <prefix>/lib/node_modules.
    return prefix.endsWith(`${sep}lib`) ? `npm install -g ${name}` : `cd ${prefix} && npm install ${name}`;
  }
  if (existsSync(join(appDir, 'node_modules', '.pnpm')))
    return `camd bundle --out DIR --plugins <the plugins it has>,${name} (from a camd checkout), or place the package in ${join(appDir, 'node_modules')}`;
  return `npm install ${name}`;
}

/**
 * `camd plugins`: every plugin the config names, installed or not. Those installed are set up
 * (without pipelines) and listed as the API lists them: version, plugin API version, state keys,
 * routes. Those missing name the command that installs them. Exit code 1 when a plugin the config
 * requires (not `optional`) is missing: `camd run` would refuse to start.
 */
export async function pluginsCommand(opts: {
  config: CamdConfig;
  stateDir: string;
  logger: Logger;
  searchPaths: string[];
  appDir: string;
  out?: (s: string) => void;
  err?: (s: string) => void;
}): Promise<number> {
  const out = opts.out ?? ((s) => process.stdout.write(s));
  const err = opts.err ?? ((s) => process.stderr.write(s));
  const entries = pluginEntries(opts.config);
  const missing = new Set(entries.filter((e) => !locatePlugin(e.name, opts.searchPaths).file).map((e) => e.name));
  let listed: PluginListing[] = [];
  let setupError: string | undefined;
  try {
    const host = await CamdHost.create({
      config: { ...opts.config, plugins: entries.filter((e) => !missing.has(e.name)) },
      stateDir: opts.stateDir,
      logger: opts.logger,
      pluginSearchPaths: opts.searchPaths,
      media: false,
      // stdout is the JSON report: the one-time administrator password goes to stderr.
      announceAdmin: (user, password) =>
        err(`camd: no users configured; created administrator "${user}" with password: ${password}\n      (shown once; only its hash is stored)\n`),
      // …and so does the news of a TLS certificate issued on this first start.
      announceCertificate: (c) => err(`camd: issued ${c.certFile} (${c.fingerprint})\n`),
    });
    listed = host.listPlugins();
    await host.stop();
  } catch (e) {
    setupError = e instanceof CamdError ? `${e.code}: ${e.message}` : (e as Error).message;
  }
  const report: PluginReport[] = entries.map((e) => {
    if (missing.has(e.name)) return { name: e.name, installed: false, optional: e.optional === true, install: installCommand(e.name, opts.appDir) };
    const found = listed.find((p) => p.name === e.name);
    return found ? { installed: true, ...found } : { name: e.name, installed: true, error: setupError ?? 'not set up' };
  });
  out(JSON.stringify(report, null, 2) + '\n');
  for (const r of report) {
    if (!r.installed)
      err(
        `camd: plugin "${r.name}"${r.optional ? ' (optional)' : ''} is not installed (looked from ${opts.searchPaths.join(', ')}); install it: ${r.install}\n`,
      );
  }
  if (setupError) err(`camd: the installed plugins could not be set up: ${setupError}\n`);
  return setupError || report.some((r) => !r.installed && !r.optional) ? 1 : 0;
}
