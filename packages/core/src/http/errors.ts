import { CamdError, ErrorCodes, type ErrorCode } from '../errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.STATE_UNKNOWN_KEY]: 404,
  [ErrorCodes.STATE_INVALID]: 400,
  [ErrorCodes.STATE_FORBIDDEN]: 403,
  [ErrorCodes.STATE_PERSIST]: 500,
  [ErrorCodes.STREAM_UNKNOWN]: 404,
  [ErrorCodes.AUTH_REQUIRED]: 401,
  [ErrorCodes.AUTH_FORBIDDEN]: 403,
  [ErrorCodes.USER_EXISTS]: 409,
  [ErrorCodes.USER_UNKNOWN]: 404,
};

/** HTTP status and JSON body for an error thrown by a route. */
export function httpError(err: unknown): { status: number; body: { error: string; code: string; message: string } } {
  if (err instanceof CamdError) {
    const status = STATUS[err.code] ?? 500;
    return { status, body: { error: statusText(status), code: err.code, message: err.message } };
  }
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: statusText(e.statusCode), code: e.code ?? 'CAMD_ERR_BAD_REQUEST', message: e.message ?? 'bad request' } };
  }
  return { status: 500, body: { error: 'Internal Server Error', code: 'CAMD_ERR_INTERNAL', message: 'internal error (see the daemon log)' } };
}

function statusText(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' } as Record<number, string>
  )[status] ?? 'Error';
}
