import pretty from 'pino-pretty';
import { createLogger, type Logger } from '@camd/core';
import type { LogFormat } from './args.js';

/** `auto` is pretty when stdout is a terminal (a person reads it) and JSON otherwise (journald, files, collectors). */
export function resolveLogFormat(format: LogFormat, stdoutIsTty = process.stdout.isTTY === true): 'json' | 'pretty' {
  return format === 'auto' ? (stdoutIsTty ? 'pretty' : 'json') : format;
}

/**
 * The daemon's logger on stdout: pino JSON, or the same records through pino-pretty in this thread
 * (synchronous writes, so nothing is lost when the process exits). Redaction happens in pino before
 * either format sees a record.
 */
export function createDaemonLogger(opts: { level?: string; format: LogFormat }): Logger {
  if (resolveLogFormat(opts.format) === 'json') return createLogger({ level: opts.level });
  const destination = pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
    sync: true,
  });
  return createLogger({ level: opts.level, destination });
}
