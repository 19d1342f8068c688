/**
 * Every error camd raises on purpose has a code from this one list, so logs, API replies and tests
 * can match on it, and it names the plugin and hook involved when there is one.
 */
export const ErrorCodes = {
  CONFIG: 'CAMD_ERR_CONFIG',
  PLUGIN_NOT_FOUND: 'CAMD_ERR_PLUGIN_NOT_FOUND',
  PLUGIN_INVALID: 'CAMD_ERR_PLUGIN_INVALID',
  PLUGIN_API_VERSION: 'CAMD_ERR_PLUGIN_API_VERSION',
  PLUGIN_OPTIONS: 'CAMD_ERR_PLUGIN_OPTIONS',
  PLUGIN_SETUP: 'CAMD_ERR_PLUGIN_SETUP',
  PLUGIN_DUPLICATE: 'CAMD_ERR_PLUGIN_DUPLICATE',
  HOOK_FAILED: 'CAMD_ERR_HOOK_FAILED',
  HOOK_TIMEOUT: 'CAMD_ERR_HOOK_TIMEOUT',
  STATE_UNKNOWN_KEY: 'CAMD_ERR_STATE_UNKNOWN_KEY',
  STATE_DUPLICATE_KEY: 'CAMD_ERR_STATE_DUPLICATE_KEY',
  STATE_INVALID: 'CAMD_ERR_STATE_INVALID',
  STATE_FORBIDDEN: 'CAMD_ERR_STATE_FORBIDDEN',
  STATE_PERSIST: 'CAMD_ERR_STATE_PERSIST',
  AUTH_REQUIRED: 'CAMD_ERR_AUTH_REQUIRED',
  AUTH_FORBIDDEN: 'CAMD_ERR_AUTH_FORBIDDEN',
  USER_EXISTS: 'CAMD_ERR_USER_EXISTS',
  USER_UNKNOWN: 'CAMD_ERR_USER_UNKNOWN',
  GST_ELEMENT_MISSING: 'CAMD_ERR_GST_ELEMENT_MISSING',
  GST_NO_ENCODER: 'CAMD_ERR_GST_NO_ENCODER',
  PIPELINE_FAILED: 'CAMD_ERR_PIPELINE_FAILED',
  STREAM_UNKNOWN: 'CAMD_ERR_STREAM_UNKNOWN',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface CamdErrorOptions {
  plugin?: string;
  hook?: string;
  details?: unknown;
  cause?: unknown;
}

export class CamdError extends Error {
  readonly code: ErrorCode;
  readonly plugin?: string;
  readonly hook?: string;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, opts: CamdErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CamdError';
    this.code = code;
    this.plugin = opts.plugin;
    this.hook = opts.hook;
    this.details = opts.details;
  }
}

export function isCamdError(err: unknown, code?: ErrorCode): err is CamdError {
  return err instanceof CamdError && (code === undefined || err.code === code);
}
