import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { CamdConfig } from '../config.js';
import { CamdError, ErrorCodes } from '../errors.js';
import type { HttpConnections } from '../http/connections.js';
import { installPlainHttpPolicy } from '../http/plain-http.js';
import type { TlsScope } from '../plugins/contract.js';
import { join } from 'node:path';
import { type LoadedCertificate, readCertificatePair } from './certificate.js';
import { Certificates } from './certificates.js';
import { type TlsSettings, tlsSettings } from './config.js';
import { createTlsLayer, listenTls, portOf, type TlsLayer } from './layer.js';

export interface DaemonTlsOptions {
  config: CamdConfig;
  stateDir: string;
  logger: Logger;
  /** Where a certificate camd issued itself is shown (default: stdout, beside the admin password). */
  announce?: (c: LoadedCertificate, why: string) => void;
}

/**
 * The daemon's TLS: its certificate (configured or generated), HTTPS in front of the HTTP server,
 * what plain HTTP does meanwhile, and the scope through which plugins make TLS servers (RTSPS).
 */
export class DaemonTls {
  readonly settings: TlsSettings;
  readonly certificates?: Certificates;
  private https?: TlsLayer;

  constructor(private readonly o: DaemonTlsOptions) {
    this.settings = tlsSettings(o.config);
    if (this.settings.httpsPort === undefined && this.settings.rtspsPort === undefined) return;
    this.certificates = Certificates.open({ stateDir: o.stateDir, files: this.settings.files, logger: o.logger, announce: o.announce ?? printCertificate });
    const c = this.certificates.current;
    o.logger.info(
      { file: c.certFile, fingerprint: c.fingerprint, spkiPin: c.spkiPin, validTo: c.validTo.toISOString(), names: c.names },
      this.certificates.isGenerated ? 'tls: self-signed certificate' : 'tls: certificate',
    );
    if (this.settings.httpsPort !== undefined && this.settings.plain === 'on' && this.settings.basicOverPlainHttp)
      o.logger.info('tls: plain HTTP stays on and accepts HTTP Basic (http.plain, auth.basicOverPlainHttp)');
  }

  /** Plain HTTP's policy (redirect, Basic refused) as a hook of the HTTP server. */
  install(app: FastifyInstance): void {
    if (this.settings.httpsPort === undefined) return;
    installPlainHttpPolicy(app, { plain: this.settings.plain, basicOverPlainHttp: this.settings.basicOverPlainHttp, httpsPort: () => this.httpsPort });
  }

  /**
   * HTTPS: raw connections are admitted by the HTTP server's connection guard (HTTP and HTTPS share
   * its limits), and decrypted ones go to the HTTP server as its own, so its pacing, backpressure and
   * routes apply.
   */
  async listen(app: FastifyInstance, connections: HttpConnections, host: string): Promise<void> {
    if (!this.certificates || this.settings.httpsPort === undefined) return;
    const layer = createTlsLayer(this.certificates, (socket, admission) => connections.accept(socket, admission), {
      name: 'https',
      log: this.o.logger,
      guard: connections.guard,
      maxConnections: app.server.maxConnections,
    });
    try {
      await listenTls(layer, this.settings.httpsPort, host);
    } catch (err) {
      throw new CamdError(ErrorCodes.CONFIG, `http.tls.port: HTTPS cannot listen on ${host}:${this.settings.httpsPort}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.https = layer;
    this.certificates.start();
  }

  /** The HTTPS port bound (0: none). */
  get httpsPort(): number {
    return this.https ? portOf(this.https) : 0;
  }

  /** What plugins get as `ctx.tls` (undefined when the daemon has no certificate). */
  scope(): TlsScope | undefined {
    const certs = this.certificates;
    if (!certs) return undefined;
    return Object.freeze({
      createServer: (accept, opts) => {
        certs.start();
        return createTlsLayer(certs, accept, { ...opts, log: opts.log ?? this.o.logger });
      },
      get fingerprint() {
        return certs.current.fingerprint;
      },
      get spkiPin() {
        return certs.current.spkiPin;
      },
    } satisfies TlsScope);
  }

  async close(): Promise<void> {
    const layer = this.https;
    this.https = undefined;
    if (layer) {
      const closed = new Promise<void>((r) => layer.close(() => r()));
      layer.destroyAll();
      await closed;
    }
    this.certificates?.close();
  }
}

function printCertificate(c: LoadedCertificate, why: string): void {
  process.stdout.write(
    `camd: issued a self-signed TLS certificate (${why}) for ${c.names.replace(/(DNS|IP Address):/g, '')}\n` +
      `      SHA-256 fingerprint: ${c.fingerprint}\n` +
      `      public key pin:      sha256//${c.spkiPin}  (curl --pinnedpubkey; Chromium --ignore-certificate-errors-spki-list=${c.spkiPin})\n` +
      `      file:                ${c.certFile}  (camd tls fingerprint prints these again)\n\n`,
  );
}

/**
 * The certificate a daemon with this config and state directory serves, read without issuing one
 * (`camd tls fingerprint`): undefined when TLS is off or camd has not issued its own yet.
 */
export function daemonCertificate(config: CamdConfig, stateDir: string): LoadedCertificate | undefined {
  const s = tlsSettings(config);
  if (s.httpsPort === undefined && s.rtspsPort === undefined) return undefined;
  if (s.files) return readCertificatePair(s.files.cert, s.files.key, { certField: 'http.tls.cert', keyField: 'http.tls.key' });
  const dir = join(stateDir, 'tls');
  try {
    return readCertificatePair(join(dir, 'cert.pem'), join(dir, 'key.pem'), { certField: 'generated certificate', keyField: 'generated key' });
  } catch (err) {
    if (/no such file/.test((err as Error).message)) return undefined;
    throw err;
  }
}
