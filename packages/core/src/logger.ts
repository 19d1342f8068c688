import pino, { type Logger, type LoggerOptions } from 'pino';

/** Paths that may carry secrets anywhere in a log object; pino replaces them before serialising. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'users[*].password',
  'config.users[*].password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'bearerToken',
  '*.bearerToken',
  'config.metrics.bearerToken',
];

export function createLogger(opts: { level?: string; destination?: pino.DestinationStream } & LoggerOptions = {}): Logger {
  const { destination, level, ...rest } = opts;
  const options: LoggerOptions = {
    name: 'camd',
    level: level ?? process.env.CAMD_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...rest,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
