import { CamdError, ErrorCodes } from '../errors.js';

/** What plain HTTP does when HTTPS is on: serve (`on`), answer 308 to HTTPS (`redirect`), or not listen (`off`). */
export type PlainHttp = 'on' | 'redirect' | 'off';

/** `http.tls`: HTTPS on `port` (default 8443); `cert`/`key` PEM files, or camd's own self-signed pair. */
export interface HttpTlsConfig {
  port?: number;
  cert?: string;
  key?: string;
}

/** The config blocks this module reads (a subset of `CamdConfig`). */
export interface TlsConfigBlocks {
  http?: { tls?: HttpTlsConfig | false; plain?: PlainHttp };
  auth?: { basicOverPlainHttp?: boolean };
  rtsp?: { tls?: { port?: number } | false };
}

export const DEFAULT_HTTPS_PORT = 8443;
/** RTSPS: 322 is IANA's port, which needs root; 8322 as 8554 stands for 554. */
export const DEFAULT_RTSPS_PORT = 8322;

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;

/** Schema fragments for `config.ts`. */
export const tlsSchema = {
  httpTls: {
    anyOf: [
      { const: false },
      { type: 'object', additionalProperties: false, properties: { port, cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } } },
    ],
  },
  plain: { enum: ['on', 'redirect', 'off'] },
  basicOverPlainHttp: { type: 'boolean' },
  rtspTls: { anyOf: [{ const: false }, { type: 'object', additionalProperties: false, properties: { port } }] },
} as const;

/** The TLS settings of a config, defaults applied. */
export interface TlsSettings {
  /** HTTPS port, or undefined when `http.tls` is false. */
  httpsPort?: number;
  /** RTSPS port, or undefined when off (`rtsp.tls: false`, or `http.tls: false` without an `rtsp.tls` block). */
  rtspsPort?: number;
  /** Configured files; undefined: camd's generated certificate. */
  files?: { cert: string; key: string };
  plain: PlainHttp;
  basicOverPlainHttp: boolean;
}

/**
 * Reads and checks the TLS parts of a config. HTTPS and RTSPS are on unless turned off; plain HTTP
 * stays on, and so does HTTP Basic over it, while TLS is new to the installations that upgrade.
 */
export function tlsSettings(cfg: TlsConfigBlocks): TlsSettings {
  const http = cfg.http?.tls;
  const files = http ? http : undefined;
  const rtsp = cfg.rtsp?.tls;
  const plain = cfg.http?.plain ?? 'on';
  const httpsPort = http === false ? undefined : (http?.port ?? DEFAULT_HTTPS_PORT);
  const rtspsPort = rtsp === false || (http === false && rtsp === undefined) ? undefined : (rtsp?.port ?? DEFAULT_RTSPS_PORT);
  if (http && (http.cert === undefined) !== (http.key === undefined))
    throw new CamdError(ErrorCodes.CONFIG, `config.http.tls: give both cert and key (or neither, for a generated certificate)`);
  if (httpsPort === undefined && plain !== 'on') throw new CamdError(ErrorCodes.CONFIG, `config.http.plain: "${plain}" needs HTTPS (http.tls is false)`);
  return {
    httpsPort,
    rtspsPort,
    files: files?.cert && files.key ? { cert: files.cert, key: files.key } : undefined,
    plain,
    basicOverPlainHttp: cfg.auth?.basicOverPlainHttp ?? true,
  };
}
