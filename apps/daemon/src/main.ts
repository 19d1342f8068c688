import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CamdError, CamdHost, createLogger, daemonCertificate, ErrorCodes, hashPassword, type CamdConfig, type Logger } from '@camd/core';
import { parseArgs, USAGE } from './args.js';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from './config-file.js';
import { bundle } from './bundle.js';
import { createDaemonLogger } from './log.js';
import { notifyWhenHealthy } from './notify.js';
import { formatProbe } from './probe.js';
import { installCommand, pluginsCommand } from './plugins-command.js';

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = (JSON.parse(readFileSync(resolve(APP_DIR, 'package.json'), 'utf8')) as { version: string }).version;

/** Runs the camd CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`camd: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (args.command === 'version') {
    process.stdout.write(`camd ${VERSION}\n`);
    return 0;
  }
  if (args.command === 'hash-password') {
    const pw = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (!pw) {
      process.stderr.write('camd: no password on stdin\n');
      return 2;
    }
    process.stdout.write((await hashPassword(pw)) + '\n');
    return 0;
  }
  if (args.command === 'bundle') {
    if (!args.out) {
      process.stderr.write('camd: bundle needs --out DIR\n');
      return 2;
    }
    try {
      bundle({ out: args.out, plugins: args.plugins ?? ['@camd/plugin-rtsp'] });
      return 0;
    } catch (err) {
      process.stderr.write(`camd: bundle failed: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const configPath = resolve(args.config ?? DEFAULT_CONFIG_PATH);
  const stateDir = resolve(args.stateDir ?? '.state');
  let config;
  try {
    config = loadConfigFile(configPath);
  } catch (err) {
    process.stderr.write(`camd: config error: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.command === 'probe') return probe(config, configPath, stateDir, args.json ?? false);
  if (args.command === 'tls-fingerprint') return printFingerprint(config, stateDir);
  // `camd plugins` prints its report on stdout: its log goes to stderr.
  const logger = createDaemonLogger({ level: config.log?.level, format: args.logFormat, stream: args.command === 'plugins' ? 'stderr' : 'stdout' });
  // Plugins resolve from the config's folder, the working directory, then the daemon's own install.
  const pluginSearchPaths = [dirname(configPath), process.cwd(), APP_DIR];
  if (args.command === 'plugins') return pluginsCommand({ config, stateDir, logger, searchPaths: pluginSearchPaths, appDir: APP_DIR });
  let host: CamdHost;
  try {
    host = await CamdHost.create({ config, stateDir, logger, pluginSearchPaths });
  } catch (err) {
    const msg = err instanceof CamdError ? `${err.code}: ${err.message}` : ((err as Error).stack ?? String(err));
    logger.fatal({ err }, 'startup failed');
    process.stderr.write(`camd: startup failed: ${msg}\n`);
    if (err instanceof CamdError && err.code === ErrorCodes.PLUGIN_NOT_FOUND && err.plugin && msg.includes('is not installed'))
      process.stderr.write(`camd: install it: ${installCommand(err.plugin, APP_DIR)}\n`);
    return 1;
  }
  return runUntilSignal(host, logger);
}

/**
 * `camd probe`: builds the daemon as `run` would (plugins included: they may add encoders or filters)
 * but starts no pipeline; reads the cameras and tries every encoder. Settings stored by a daemon in
 * the state dir are used when it exists (a fresh dir is not created for a probe).
 */
async function probe(config: CamdConfig, configPath: string, stateDir: string, json: boolean): Promise<number> {
  const ownDir = !existsSync(stateDir);
  const dir = ownDir ? mkdtempSync(join(tmpdir(), 'camd-probe-')) : stateDir;
  // Warnings (a failed trial, a camera that cannot be read) on stderr; the report on stdout.
  const logger = createLogger({ level: 'warn', destination: process.stderr });
  let host: CamdHost | undefined;
  try {
    host = await CamdHost.create({
      config: withoutTls(config),
      stateDir: dir,
      logger,
      pluginSearchPaths: [dirname(configPath), process.cwd(), APP_DIR],
      announceAdmin: () => undefined,
    });
    const report = await host.probe();
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatProbe(report));
    return 0;
  } catch (err) {
    process.stderr.write(`camd: probe failed: ${err instanceof CamdError ? `${err.code}: ${err.message}` : (err as Error).message}\n`);
    return 1;
  } finally {
    await host?.stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A probe serves nothing: with TLS on (the default) the host would issue a certificate into the state
 * dir and announce it on stdout, where the report goes.
 */
function withoutTls(config: CamdConfig): CamdConfig {
  return { ...config, http: { ...config.http, tls: false, plain: 'on' }, rtsp: { ...config.rtsp, tls: false } };
}

/** `camd tls fingerprint`: what clients pin, read from the certificate the daemon serves (none is issued here). */
function printFingerprint(config: Parameters<typeof daemonCertificate>[0], stateDir: string): number {
  try {
    const c = daemonCertificate(config, stateDir);
    if (!c) {
      process.stderr.write('camd: no TLS certificate: TLS is off in the config, or camd has not started once with this state directory\n');
      return 1;
    }
    process.stdout.write(
      `certificate: ${c.certFile}\nnames: ${c.names}\nvalid until: ${c.validTo.toISOString()}\nSHA-256 fingerprint: ${c.fingerprint}\npublic key pin: sha256//${c.spkiPin}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`camd: ${(err as Error).message}\n`);
    return 1;
  }
}

async function runUntilSignal(host: CamdHost, logger: Logger): Promise<number> {
  let stopping: Promise<void> | undefined;
  let stopReadiness: () => void = () => undefined;
  let stopped!: () => void;
  const done = new Promise<void>((r) => (stopped = r));
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'stopping');
    stopReadiness();
    stopping = host.stop().finally(stopped);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A bug in one request handler must not take every client down; it is logged loudly instead.
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  try {
    await host.start();
  } catch (err) {
    logger.fatal({ err }, 'startup failed');
    process.stderr.write(`camd: startup failed: ${(err as Error).message}\n`);
    await host.stop();
    return 1;
  }
  // systemd (Type=notify): ready once every stream plays.
  if (!stopping) stopReadiness = notifyWhenHealthy({ health: () => host.health(), logger });
  await done;
  logger.info('stopped');
  return 0;
}
