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
    return { status: e.statusCode, body: { error: statusText(e.statusCode), code: e.code ?? CoreErrors.BAD_REQUEST.code, message: e.message ?? CoreErrors.BAD_REQUEST.template } };
  }
  const internal = new CoreErrors.INTERNAL();
  return { status: internal.statusCode, body: { error: statusText(internal.statusCode), code: internal.code, message: internal.message } };
}

/** The reason phrase of an HTTP status (`Not Found`), the `error` of the JSON body. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
