import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CamdError, ErrorCodes, parseConfig, type CamdConfig } from '@camd/core';

/** The embedded default: the default streams (/stream1 1080p60 H.264 high 8 Mbit/s, /stream2 720p30 main 4 Mbit/s), a test pattern when there is no /dev/video0. */
export const DEFAULT_CONFIG_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../config/default.json');

/** Reads and validates a config file; errors are one line naming the file and the bad field. */
export function loadConfigFile(path: string): CamdConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CamdError(ErrorCodes.CONFIG, `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CamdError(ErrorCodes.CONFIG, `${path}: not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseConfig(doc);
  } catch (err) {
    if (err instanceof CamdError) throw new CamdError(err.code, `${path}: ${err.message}`, { details: err.details });
    throw err;
  }
}
