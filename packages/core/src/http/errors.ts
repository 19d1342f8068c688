import { STATUS_CODES } from 'node:http';
import { CoreErrors, isCamdError } from '../errors.js';

export interface HttpErrorBody {
  error: string;
  code: string;
  message: string;
}

/**
 * HTTP status and JSON body for an error thrown by a route: a camd error (core's or a plugin's, see
 * `createError`) answers with its own status, code and message; fastify's 4xx (bad JSON, body too
 * large) with theirs; anything else is a 500 whose details stay in the daemon log.
 */
export function httpError(err: unknown): { status: number; body: HttpErrorBody } {
  if (isCamdError(err)) {
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    return { status, body: { error: statusText(status), code: err.code, message: err.message } };
  }
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: statusText(e.statusCode), code: camdCode(e.code), message: e.message ?? CoreErrors.BAD_REQUEST.template } };
  }
  const internal = new CoreErrors.INTERNAL();
  return { status: internal.statusCode, body: { error: statusText(internal.statusCode), code: internal.code, message: internal.message } };
}

/** The reason phrase of an HTTP status (`Not Found`), the `error` of the JSON body. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/**
 * fastify's own 4xx codes in camd's namespace, so every answer has a `CAMD_ERR_…` code:
 * `FST_ERR_CTP_BODY_TOO_LARGE` → `CAMD_ERR_BODY_TOO_LARGE`, `FST_ERR_VALIDATION` → `CAMD_ERR_VALIDATION`.
 */
export function camdCode(code: string | undefined): string {
  if (!code) return CoreErrors.BAD_REQUEST.code;
  if (code.startsWith('CAMD_ERR_')) return code;
  const m = /^FST_ERR_(?:CTP_)?([A-Z0-9_]+)$/.exec(code);
  return m ? `CAMD_ERR_${m[1]}` : CoreErrors.BAD_REQUEST.code;
}
