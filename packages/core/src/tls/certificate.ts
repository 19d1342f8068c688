import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { createSecureContext } from 'node:tls';
import { CamdError, ErrorCodes } from '../errors.js';
import { selfSignedCertificate } from './self-signed.js';

/** A certificate and its private key as the TLS servers use them, with what people compare. */
export interface LoadedCertificate {
  /** PEM: the server certificate, then any intermediates (as a CA delivers a chain file). */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** SHA-256 of the certificate, `AB:CD:…` (what browsers and `openssl x509 -fingerprint -sha256` show). */
  readonly fingerprint: string;
  /** SHA-256 of the public key (SubjectPublicKeyInfo), base64: `curl --pinnedpubkey sha256//…`, Chromium's SPKI list. */
  readonly spkiPin: string;
  /** Subject alternative names as written (`DNS:cam, IP Address:127.0.0.1`). */
  readonly names: string;
  readonly validFrom: Date;
  readonly validTo: Date;
}

/** Which config field a file came from, for error messages (`http.tls.cert`), or `generated`. */
export interface PairOrigin {
  certField: string;
  keyField: string;
}

const fail = (message: string) => new CamdError(ErrorCodes.TLS_CERTIFICATE, message);

/**
 * Reads and checks a certificate and its key: both parse, the key is the certificate's, the
 * certificate is valid `now`, and OpenSSL takes the pair. Every refusal names the field and the file.
 */
export function readCertificatePair(certFile: string, keyFile: string, origin: PairOrigin, now = new Date()): LoadedCertificate {
  const cert = readText(certFile, origin.certField);
  const key = readText(keyFile, origin.keyField);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw fail(`${origin.certField}: ${certFile} is not a PEM certificate (${(err as Error).message})`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw fail(`${origin.keyField}: ${keyFile} is not a PEM private key (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(keyObject)) throw fail(`${origin.keyField}: ${keyFile} is not the private key of the certificate ${certFile}`);
  const validFrom = new Date(x509.validFrom);
  const validTo = new Date(x509.validTo);
  if (validTo <= now) throw fail(`${origin.certField}: the certificate ${certFile} expired on ${validTo.toISOString()}; renew it`);
  if (validFrom > now) throw fail(`${origin.certField}: the certificate ${certFile} is valid only from ${validFrom.toISOString()} (is the clock right?)`);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw fail(`${origin.certField}: ${certFile} with ${keyFile} is refused by OpenSSL: ${(err as Error).message}`);
  }
  return {
    cert,
    key,
    certFile,
    keyFile,
    fingerprint: x509.fingerprint256,
    spkiPin: spkiPin(x509),
    names: x509.subjectAltName ?? '',
    validFrom,
    validTo,
  };
}

function readText(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fail(`${field}: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message})`);
  }
}

export function spkiPin(x509: X509Certificate): string {
  return createHash('sha256')
    .update(x509.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/**
 * What a generated certificate names: the host name (and `<host>.local`, mDNS), `localhost`, and the
 * machine's addresses. IPv6 link-local addresses are left out: they need a scope to be used at all.
 */
export function machineNames(): string[] {
  const host = hostname();
  const names = new Set<string>([host, ...(host.includes('.') ? [] : [`${host}.local`]), 'localhost']);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!/^fe[89ab]/i.test(a.address)) names.add(a.address);
  }
  return [...names];
}

/** The names in a certificate's `subjectAltName` (`DNS:x, IP Address:y`), as plain strings. */
export function namesOf(subjectAltName: string): string[] {
  return subjectAltName
    .split(/,\s*/)
    .map((n) => n.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean)
    .map((n) => (n.includes(':') ? canonicalIpv6(n) : n));
}

/** `0:0:0:0:0:0:0:1` (OpenSSL's form) and `::1` (the OS's) compare equal. */
export function canonicalIpv6(a: string): string {
  if (!a.includes(':')) return a;
  const [head, tail = ''] = a.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':');
}

export const GENERATED_VALIDITY_DAYS = 825;

/** A self-signed certificate (PEM) for `names`, valid from an hour ago (clock skew) for 825 days. */
export function issueSelfSigned(key: KeyObject, names: readonly string[], now = new Date()): string {
  const der = selfSignedCertificate({
    key,
    commonName: names[0] ?? 'camd',
    names,
    notBefore: new Date(now.getTime() - 3600_000),
    // Apple's platforms refuse TLS server certificates valid for longer than 825 days, trusted or not.
    notAfter: new Date(now.getTime() + GENERATED_VALIDITY_DAYS * 86400_000),
  });
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}
