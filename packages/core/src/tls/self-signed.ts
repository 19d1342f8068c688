import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { bitString, boolean, explicit, implicit, integer, octetString, oid, sequence, set, time, utf8String } from './der.js';

export interface SelfSignedOptions {
  /** An EC P-256 private key (the certificate's own: it signs itself). */
  key: KeyObject;
  /** The subject's common name (the host name). */
  commonName: string;
  /** Subject alternative names: DNS names and IP addresses (v4 or v6). */
  names: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/**
 * A self-signed X.509 v3 certificate (DER) for a TLS server: ECDSA P-256 with SHA-256, the names as
 * subject alternative names (what clients match; the common name is for people), key usage
 * digitalSignature (ECDHE key exchange signs), extended key usage serverAuth. It is its own issuer,
 * so it is marked a CA that may sign certificates (basicConstraints CA:TRUE, keyCertSign), as
 * `openssl req -x509` makes them: a client told to trust it as a CA file (curl --cacert, ffmpeg
 * -ca_file, GStreamer's tls-database) then accepts it as the anchor of a one-certificate chain.
 */
export function selfSignedCertificate(o: SelfSignedOptions): Buffer {
  const spki = createPublicKey(o.key).export({ type: 'spki', format: 'der' });
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8String(o.commonName))));
  // The subject key identifier: SHA-1 of the public key's bits (RFC 5280 §4.2.1.2, method 1).
  const keyId = createHash('sha1').update(publicKeyBits(spki)).digest();
  const extension = (id: string, critical: boolean, value: Buffer) => sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serialNumber()),
    ECDSA_WITH_SHA256,
    name,
    sequence(time(o.notBefore), time(o.notAfter)),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension('2.5.29.19', true, sequence(boolean(true))),
        // digitalSignature (bit 0) and keyCertSign (bit 5): 0b10000100, 2 unused bits.
        extension('2.5.29.15', true, Buffer.from([0x03, 0x02, 0x02, 0x84])),
        extension('2.5.29.37', false, sequence(oid(SERVER_AUTH))),
        extension('2.5.29.17', false, sequence(...o.names.map(generalName))),
        extension('2.5.29.14', false, octetString(keyId)),
        extension('2.5.29.35', false, sequence(implicit(0, keyId))),
      ),
    ),
  );
  // Node signs ECDSA in DER (an Ecdsa-Sig-Value), what X.509 carries in its BIT STRING.
  return sequence(tbs, ECDSA_WITH_SHA256, bitString(sign('sha256', tbs, o.key)));
}

/** A GeneralName: iPAddress [7] (4 or 16 bytes) or dNSName [2]. */
function generalName(n: string): Buffer {
  const v = isIP(n);
  if (v === 4) return implicit(7, Buffer.from(n.split('.').map(Number)));
  if (v === 6) return implicit(7, ipv6Bytes(n));
  return implicit(2, Buffer.from(n, 'latin1'));
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::') as [string, string?];
  const words = (s: string) => (s ? s.split(':') : []);
  const h = words(head);
  const t = words(tail);
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

/** 16 random bytes, positive (RFC 5280: at most 20 octets, non-negative, unique per issuer). */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

/** The subjectPublicKey BIT STRING's contents of a DER SubjectPublicKeyInfo. */
function publicKeyBits(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier SEQUENCE, BIT STRING }: skip the outer header and the algorithm.
  let i = headerLength(spki, 0);
  i += headerLength(spki, i) + contentLength(spki, i);
  const start = i + headerLength(spki, i) + 1; // + the unused-bits byte
  return spki.subarray(start, i + headerLength(spki, i) + contentLength(spki, i));
}

function headerLength(b: Buffer, at: number): number {
  const l = b[at + 1]!;
  return l < 0x80 ? 2 : 2 + (l & 0x7f);
}

function contentLength(b: Buffer, at: number): number {
  const l = b[at + 1]!;
  if (l < 0x80) return l;
  let n = 0;
  for (let k = 0; k < (l & 0x7f); k++) n = n * 256 + b[at + 2 + k]!;
  return n;
}
