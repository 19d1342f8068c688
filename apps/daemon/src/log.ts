import pretty from 'pino-pretty';
import { createLogger, type Logger } from '@camd/core';
import type { LogFormat } from './args.js';

/** `auto` is pretty when the log's stream is a terminal (a person reads it) and JSON otherwise (journald, files, collectors). */
export function resolveLogFormat(format: LogFormat, isTty = process.stdout.isTTY === true): 'json' | 'pretty' {
  return format === 'auto' ? (isTty ? 'pretty' : 'json') : format;
}

/**
 * The daemon's logger on stdout (or stderr, for commands whose stdout is their result): pino JSON,
 * or the same records through pino-pretty in this thread (synchronous writes, so nothing is lost when
 * the process exits). Redaction happens in pino before either format sees a record.
 */
export function createDaemonLogger(opts: { level?: string; format: LogFormat; stream?: 'stdout' | 'stderr' }): Logger {
  const out = opts.stream === 'stderr' ? process.stderr : process.stdout;
  if (resolveLogFormat(opts.format, out.isTTY === true) === 'json')
    return createLogger({ level: opts.level, destination: opts.stream === 'stderr' ? { write: (line: string) => void out.write(line) } : undefined });
  const destination = pretty({
    colorize: out.isTTY === true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
    sync: true,
    destination: opts.stream === 'stderr' ? 2 : 1,
  });
  return createLogger({ level: opts.level, destination });
}
