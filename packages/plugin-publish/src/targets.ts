import { X509Certificate } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { ValidationError, type Validator } from '@camd/core';

/** Where one stream goes: the stream's name and the media server's URL (credentials included). */
export interface PublishTargetConfig {
  readonly stream: string;
  readonly url: string;
  /**
   * rtsps:// and rtmps:// only: the certificate authorities that this server's certificate must chain
   * to, instead of the default roots (a private CA, or a self-signed server's own certificate). PEM
   * text (`-----BEGIN CERTIFICATE-----`…), or the absolute path of a PEM file, read at every connect.
   */
  readonly ca?: string;
}

export type PublishProtocol = 'rtsp' | 'rtmp' | 'srt';

/** A target's URL, parsed once: what the protocol clients need, and what may be shown of it. */
export interface ParsedTarget {
  readonly stream: string;
  readonly protocol: PublishProtocol;
  /** The URL without credentials and without camd's own query options (`transport`). */
  readonly url: URL;
  /** As shown in stats, logs and API answers: password, passphrase, stream id and RTMP stream key masked. */
  readonly display: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
  /** TLS only: the trusted CAs (see `PublishTargetConfig.ca`): PEM text, or the path of a PEM file. Undefined: the default roots. */
  readonly ca?: { readonly pem: string } | { readonly file: string };
  /** RTSP only: `?transport=udp` asks for RTP over UDP (TCP interleaved otherwise). */
  readonly transport: 'tcp' | 'udp';
  /** Every secret of the URL, to scrub from text that a server or a child process produced. */
  readonly secrets: readonly string[];
}

export const MAX_TARGETS = 16;
const MAX_URL = 2048;
/** A CA bundle of a few certificates; the path form is a file name. */
const MAX_CA = 65_536;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MASK = '***';
const SCHEMES: Record<string, { protocol: PublishProtocol; tls: boolean; port: number | undefined }> = {
  'rtsp:': { protocol: 'rtsp', tls: false, port: 554 },
  'rtsps:': { protocol: 'rtsp', tls: true, port: 322 },
  'rtmp:': { protocol: 'rtmp', tls: false, port: 1935 },
  'rtmps:': { protocol: 'rtmp', tls: true, port: 443 },
  // SRT has no well-known port: the URL must name one.
  'srt:': { protocol: 'srt', tls: false, port: undefined },
};
/** SRT query options that carry secrets (a passphrase; gateways such as MediaMTX put user:password in the stream id). */
const SECRET_QUERY = new Set(['passphrase', 'streamid', 'password', 'pass', 'key', 'token']);

/** Parses and checks one target; throws `ValidationError` naming the field (`path`). */
export function parseTarget(t: PublishTargetConfig, path = 'target'): ParsedTarget {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new ValidationError(path, 'object {stream, url, ca?}', t);
  const extra = Object.keys(t).filter((k) => k !== 'stream' && k !== 'url' && k !== 'ca');
  if (extra.length) throw new ValidationError(`${path}.${extra[0]}`, 'no such field (stream, url, ca)', (t as unknown as Record<string, unknown>)[extra[0]!]);
  if (typeof t.stream !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(t.stream))
    throw new ValidationError(`${path}.stream`, 'stream name (1-64 of A-Z a-z 0-9 _ . -)', t.stream);
  // The error never repeats a URL: it may carry a password.
  const badUrl = (why: string) => new ValidationError(`${path}.url`, why, '<url not shown>');
  if (typeof t.url !== 'string' || t.url.length === 0 || t.url.length > MAX_URL) throw badUrl(`URL of at most ${MAX_URL} characters`);
  // The URL goes into a gst-launch description and RTSP request lines: nothing that could end a
  // quoted property or a line may pass (URL parsing would percent-encode some, not all of them).
  if (/[\s"'\\<>`]/.test(t.url) || [...t.url].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    throw badUrl('URL without spaces, quotes, backslashes or control characters');
  }
  let u: URL;
  try {
    u = new URL(t.url);
  } catch {
    throw badUrl('absolute URL (rtsp://, rtsps://, rtmp://, rtmps:// or srt://)');
  }
  const scheme = SCHEMES[u.protocol];
  if (!scheme) throw badUrl(`URL scheme rtsp, rtsps, rtmp, rtmps or srt (not ${u.protocol.replace(':', '')})`);
  if (!u.hostname) throw badUrl('URL with a host');
  if (scheme.protocol === 'srt' && !u.port) throw badUrl('srt:// URL with a port');
  if (u.hash) throw badUrl('URL without a #fragment');
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const secrets = new Set<string>();
  if (password) {
    secrets.add(password);
    secrets.add(u.password);
  }

  let transport: 'tcp' | 'udp' = 'tcp';
  const clean = new URL(u.href);
  clean.username = '';
  clean.password = '';
  if (scheme.protocol === 'rtsp') {
    const tr = clean.searchParams.get('transport');
    if (tr !== null) {
      if (tr !== 'tcp' && tr !== 'udp') throw badUrl('transport=tcp or transport=udp');
      transport = tr;
      clean.searchParams.delete('transport');
    }
  } else if (u.username || u.password) {
    throw badUrl(
      `${scheme.protocol} URL without user:password@ (${scheme.protocol === 'srt' ? 'use ?passphrase= or ?streamid=' : 'the stream key goes in the path'})`,
    );
  }
  if (scheme.protocol === 'srt') {
    const mode = clean.searchParams.get('mode');
    if (mode !== null && mode !== 'caller') throw badUrl('srt:// in caller mode (camd connects to the listener)');
  }

  const shown = new URL(u.href);
  if (shown.password) shown.password = MASK;
  for (const [k, val] of [...clean.searchParams]) {
    if (SECRET_QUERY.has(k.toLowerCase()) && val) {
      secrets.add(val);
      secrets.add(encodeURIComponent(val));
      shown.searchParams.set(k, MASK);
    }
  }
  if (scheme.protocol === 'rtmp') {
    // rtmp://host/app/<stream key>: the key is what YouTube, Twitch and CDNs authenticate with.
    const parts = clean.pathname.split('/').filter(Boolean);
    if (parts.length < 2) throw badUrl('rtmp URL of the form rtmp://host[:port]/app/stream');
    const key = parts.slice(1).join('/');
    secrets.add(key);
    shown.pathname = `/${parts[0]}/${MASK}`;
  }
  if (!clean.port && scheme.port !== undefined) clean.port = String(scheme.port);
  const ca = t.ca === undefined ? undefined : parseCa(t.ca, scheme.tls, `${path}.ca`);
  const display = shown.href;
  return {
    stream: t.stream,
    protocol: scheme.protocol,
    url: clean,
    display,
    username,
    password,
    tls: scheme.tls,
    ...(ca ? { ca } : {}),
    transport,
    secrets: [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length),
  };
}

/** A target's `ca`: PEM certificates (each must parse), or the absolute path of a PEM file. */
function parseCa(ca: unknown, tls: boolean, path: string): { pem: string } | { file: string } {
  if (!tls) throw new ValidationError(path, 'no ca for a URL without TLS (ca is for rtsps:// and rtmps://)', '<ca not shown>');
  if (typeof ca !== 'string' || ca.length === 0 || ca.length > MAX_CA)
    throw new ValidationError(path, `PEM certificates or a file path, at most ${MAX_CA} characters`, typeof ca);
  if (ca.includes('-----BEGIN')) {
    const certs = ca.match(PEM_CERT) ?? [];
    if (certs.length === 0) throw new ValidationError(path, 'PEM certificates (-----BEGIN CERTIFICATE-----)', '<no certificate>');
    for (const [i, c] of certs.entries()) {
      try {
        new X509Certificate(c);
      } catch {
        throw new ValidationError(path, 'PEM certificates that parse', `certificate ${i + 1} of ${certs.length}`);
      }
    }
    return { pem: certs.join('\n') };
  }
  if (!isAbsolute(ca) || [...ca].some((c) => c.charCodeAt(0) < 0x20))
    throw new ValidationError(path, 'PEM certificates or the absolute path of a PEM file', ca);
  return { file: ca };
}

/** The URL as users may see it (what `publishTargets` answers to reads); an unparseable URL is hidden whole. */
export function redactUrl(url: string): string {
  try {
    return parseTarget({ stream: 'x', url }).display;
  } catch {
    return '<invalid url>';
  }
}

/** Replaces every secret of the target in `text` (an error from a server or a child process). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.replaceAll(s, MASK);
  return out;
}

/** The validator of `publishTargets` (and of the plugin's `targets` option): every target parses, no duplicates. */
export function targetsValidator(): Validator<PublishTargetConfig[]> {
  const d = `array of at most ${MAX_TARGETS} {stream, url, ca?}`;
  return {
    describe: d,
    schema: {
      type: 'array',
      maxItems: MAX_TARGETS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['stream', 'url'],
        properties: {
          stream: { type: 'string' },
          url: { type: 'string', description: 'rtsp://, rtsps://, rtmp://, rtmps:// or srt:// URL' },
          ca: {
            type: 'string',
            description:
              "rtsps:// and rtmps:// only: the CA certificates the server's certificate must chain to instead of the default roots (a private CA, or a self-signed server's certificate): PEM text or the absolute path of a PEM file",
          },
        },
      },
    },
    parse(x, path) {
      if (!Array.isArray(x) || x.length > MAX_TARGETS) throw new ValidationError(path, d, Array.isArray(x) ? `${x.length} targets` : x);
      const seen = new Set<string>();
      return x.map((t, i) => {
        const p = parseTarget(t as PublishTargetConfig, `${path}[${i}]`);
        const id = targetId(p);
        if (seen.has(id)) throw new ValidationError(`${path}[${i}]`, 'a target listed once (same stream and URL twice)', p.display);
        seen.add(id);
        const { stream, url, ca } = t as PublishTargetConfig;
        return ca === undefined ? { stream, url } : { stream, url, ca };
      });
    },
  };
}

/** Identity of a target across changes: a target whose stream, URL and CA stay the same keeps running. */
export function targetId(t: Pick<ParsedTarget, 'stream' | 'url' | 'username' | 'password' | 'transport' | 'ca'>): string {
  return JSON.stringify([t.stream, t.url.href, t.username ?? '', t.password ?? '', t.transport, t.ca ?? null]);
}

/** `publishTargets` as users see it: every URL redacted (a CA certificate is no secret: it is shown). */
export function redactTargets(targets: readonly PublishTargetConfig[]): PublishTargetConfig[] {
  return targets.map((t) => (t.ca === undefined ? { stream: t.stream, url: redactUrl(t.url) } : { stream: t.stream, url: redactUrl(t.url), ca: t.ca }));
}
