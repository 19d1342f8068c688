import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_CIPHERS, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { isCamdError } from '../errors.js';
import { canonicalIpv6, issueSelfSigned, type LoadedCertificate, machineNames, namesOf, readCertificatePair } from './certificate.js';

export interface CertificatesOptions {
  /** The generated certificate lives in `<stateDir>/tls/` (cert.pem, key.pem, mode 0600). */
  stateDir: string;
  /** Files given in the config (`http.tls.cert`, `http.tls.key`); without them camd issues its own. */
  files?: { cert: string; key: string };
  logger: Logger;
  /** Told when camd issued itself a certificate (first start, renewal, changed names). */
  announce?: (c: LoadedCertificate, why: string) => void;
  /** The names a generated certificate carries (default: host name, `localhost`, the machine's addresses). */
  names?: () => string[];
  now?: () => Date;
  /** How often expiry is looked at (default 12 h). */
  checkEveryMs?: number;
}

/** A generated certificate is issued again this long before it expires. */
export const RENEW_BEFORE_MS = 30 * 86400_000;
/** A configured one that expires within this time is warned about in the log. */
const WARN_BEFORE_MS = 14 * 86400_000;
const CIPHERS = ['TLS_AES_128_GCM_SHA256', ...DEFAULT_CIPHERS.split(':').filter((c) => c !== 'TLS_AES_128_GCM_SHA256')].join(':');
/** Files that changed are read after this quiet time (a renewal writes several files). */
const SETTLE_MS = 300;
/** A pair that does not load is read again once after this time before it is reported (cert written, key not yet). */
const RETRY_MS = 2000;

/**
 * The daemon's TLS certificate and key, for every TLS server (HTTPS, RTSPS). Configured files are
 * watched (their folders: renewals replace files by renaming) and a new pair that loads replaces the
 * old one for new connections; a pair that does not keeps the old one, with an error in the log.
 * Without configured files camd issues itself a self-signed ECDSA P-256 certificate, keeps its key,
 * and issues it again (same key, so the public-key pin stays) when it nears expiry or the machine's
 * names no longer match it.
 */
export class Certificates {
  private loaded: LoadedCertificate;
  private readonly listeners = new Set<(c: LoadedCertificate) => void>();
  private readonly watchers: FSWatcher[] = [];
  private settle?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private lastRefusal?: string;
  private readonly now: () => Date;
  private readonly generated?: { certFile: string; keyFile: string; key: KeyObject };

  private constructor(private readonly o: CertificatesOptions) {
    this.now = o.now ?? (() => new Date());
    if (o.files) {
      // A wrong, unreadable or expired configured file is a start error naming it.
      this.loaded = readCertificatePair(o.files.cert, o.files.key, { certField: 'http.tls.cert', keyField: 'http.tls.key' }, this.now());
    } else {
      const dir = join(o.stateDir, 'tls');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const keyFile = join(dir, 'key.pem');
      this.generated = { certFile: join(dir, 'cert.pem'), keyFile, key: this.ownKey(keyFile) };
      this.loaded = this.issueIfNeeded(true);
    }
  }

  /** Loads (or issues) the certificate; throws `CAMD_ERR_TLS_CERTIFICATE` naming the file when a configured one is unusable. */
  static open(o: CertificatesOptions): Certificates {
    return new Certificates(o);
  }

  get current(): LoadedCertificate {
    return this.loaded;
  }

  get isGenerated(): boolean {
    return this.generated !== undefined;
  }

  /**
   * What `tls.createServer` and `server.setSecureContext` take: the current pair, TLS 1.2 and up,
   * Node's cipher list with AES-128-GCM first and the server's order honoured. Media is most of what
   * camd encrypts (200 RTSPS readers at 4 Mbit/s are 800 Mbit/s), and AES-128 takes 10 rounds per
   * block where AES-256 takes 14; clients (OpenSSL's default) would pick AES-256.
   */
  secureOptions(): SecureContextOptions {
    return { cert: this.loaded.cert, key: this.loaded.key, minVersion: 'TLSv1.2', ciphers: CIPHERS, honorCipherOrder: true };
  }

  /** Calls `fn` after the certificate changed (new connections get the new one). Returns the unsubscribe. */
  onChange(fn: (c: LoadedCertificate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Watches configured files and the expiry. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.checkExpiry(), this.o.checkEveryMs ?? 12 * 3600_000);
    this.timer.unref();
    const files = this.o.files;
    if (!files) return;
    const byDir = new Map<string, Set<string>>();
    for (const f of [files.cert, files.key]) byDir.set(dirname(f), (byDir.get(dirname(f)) ?? new Set()).add(basename(f)));
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, (_event, name) => {
          if (name === null || names.has(name.toString())) this.changed();
        });
        w.on('error', (err) => this.o.logger.warn({ err, dir }, 'tls: cannot watch the certificate folder any more'));
        this.watchers.push(w);
      } catch (err) {
        this.o.logger.warn({ err, dir }, 'tls: cannot watch the certificate folder; a renewed certificate needs a restart');
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.settle);
    clearTimeout(this.retry);
    for (const w of this.watchers.splice(0)) w.close();
    this.listeners.clear();
  }

  /** Reads the configured files again; true when a new pair was taken. */
  reload(final = true): boolean {
    const files = this.o.files;
    if (!files) return false;
    let next: LoadedCertificate;
    try {
      next = readCertificatePair(files.cert, files.key, { certField: 'http.tls.cert', keyField: 'http.tls.key' }, this.now());
    } catch (err) {
      if (!final) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.reload(true), RETRY_MS);
        return false;
      }
      const message = isCamdError(err) ? err.message : String(err);
      if (message !== this.lastRefusal) this.o.logger.error({ fingerprint: this.loaded.fingerprint }, `tls: keeping the current certificate: ${message}`);
      this.lastRefusal = message;
      return false;
    }
    clearTimeout(this.retry);
    this.lastRefusal = undefined;
    if (next.fingerprint === this.loaded.fingerprint && next.key === this.loaded.key) return false;
    this.replace(next, 'tls: certificate files changed; new connections get the new certificate');
    return true;
  }

  private changed(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(false), SETTLE_MS);
  }

  private replace(next: LoadedCertificate, message: string): void {
    const previous = this.loaded.fingerprint;
    this.loaded = next;
    this.o.logger.info({ fingerprint: next.fingerprint, previous, validTo: next.validTo.toISOString(), names: next.names }, message);
    for (const fn of this.listeners) {
      try {
        fn(next);
      } catch (err) {
        this.o.logger.error({ err }, 'tls: a server could not take the new certificate');
      }
    }
  }

  private checkExpiry(): void {
    const left = this.loaded.validTo.getTime() - this.now().getTime();
    if (this.generated) {
      const next = this.issueIfNeeded(false);
      if (next !== this.loaded) this.replace(next, 'tls: issued the self-signed certificate again');
    } else if (left <= 0) {
      this.o.logger.error({ file: this.loaded.certFile, validTo: this.loaded.validTo.toISOString() }, 'tls: the certificate has expired; clients refuse it');
    } else if (left < WARN_BEFORE_MS) {
      this.o.logger.warn({ file: this.loaded.certFile, validTo: this.loaded.validTo.toISOString() }, 'tls: the certificate expires soon; renew it');
    }
  }

  /** The generated key: read, or made (EC P-256) and written with mode 0600. */
  private ownKey(keyFile: string): KeyObject {
    try {
      return createPrivateKey(readFileSync(keyFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.o.logger.warn({ err, file: keyFile }, 'tls: the generated key is unreadable; making a new one');
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writePrivate(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    return privateKey;
  }

  /** The generated certificate, issued again when missing, unusable, near expiry or not naming the machine any more. */
  private issueIfNeeded(first: boolean): LoadedCertificate {
    const g = this.generated!;
    const names = (this.o.names ?? machineNames)();
    const origin = { certField: 'generated certificate', keyField: 'generated key' };
    let why: string | undefined;
    let have: LoadedCertificate | undefined;
    try {
      have = readCertificatePair(g.certFile, g.keyFile, origin, this.now());
      const covered = new Set(namesOf(have.names));
      const missing = names.filter((n) => !covered.has(canonicalIpv6(n)));
      if (have.validTo.getTime() - this.now().getTime() < RENEW_BEFORE_MS) why = `it expires on ${have.validTo.toISOString()}`;
      else if (missing.length > 0) why = `the machine's names changed (${missing.join(', ')} not in it)`;
    } catch (err) {
      const absent = isCamdError(err) && /no such file/.test(err.message);
      why = absent ? 'first start' : `the stored one is unusable: ${(err as Error).message}`;
    }
    if (!why) return first ? have! : this.loaded;
    writePrivate(g.certFile, issueSelfSigned(g.key, names, this.now()));
    const issued = readCertificatePair(g.certFile, g.keyFile, origin, this.now());
    this.o.logger.info(
      { file: g.certFile, fingerprint: issued.fingerprint, spkiPin: issued.spkiPin, names: issued.names, why },
      'tls: issued a self-signed certificate',
    );
    this.o.announce?.(issued, why);
    return issued;
  }
}

/** Writes a file readable by its owner only, atomically (temp file, rename). */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
