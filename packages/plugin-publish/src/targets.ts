import { X509Certificate } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { ValidationError, type Validator } from '@camd/core';

/** Where one stream goes: the stream's name and the media server's URL (credentials included). */
export interface PublishTargetConfig {
  readonly stream: string;
  readonly url: string;
  /**
   * What health checks, metrics and logs call the target (`publish stream1 studio`); without it, its
   * position in the list (`publish stream1 #0`). Never the URL: its host, user, path and query are
   * the target's own business.
   */
  readonly name?: string;
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
  /** The configured `name`, if any. */
  readonly name?: string;
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
  /** What locates the target (the URL's forms, host, user, path, query), longest first, with what `conceal` writes instead. */
  readonly identity: ReadonlyArray<readonly [text: string, placeholder: string]>;
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
const TARGET_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const FIELDS = ['stream', 'url', 'ca', 'name'];
/** SRT query options that carry secrets (a passphrase; gateways such as MediaMTX put user:password in the stream id). */
const SECRET_QUERY = new Set(['passphrase', 'streamid', 'password', 'pass', 'key', 'token']);

/** Parses and checks one target; throws `ValidationError` naming the field (`path`). */
export function parseTarget(t: PublishTargetConfig, path = 'target'): ParsedTarget {
  // A target (or a URL given where a target belongs) may carry a password: errors describe such
  // values (a string of 60 characters), never quote them.
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new ValidationError(path, 'object {stream, url, ca?, name?}', t, { quote: false });
  const extra = Object.keys(t).filter((k) => !FIELDS.includes(k));
  if (extra.length)
    throw new ValidationError(`${path}.${extra[0]}`, 'no such field (stream, url, ca, name)', (t as unknown as Record<string, unknown>)[extra[0]!], {
      quote: false,
    });
  if (typeof t.stream !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(t.stream))
    throw new ValidationError(`${path}.stream`, 'stream name (1-64 of A-Z a-z 0-9 _ . -)', t.stream);
  if (t.name !== undefined && (typeof t.name !== 'string' || !TARGET_NAME.test(t.name)))
    throw new ValidationError(`${path}.name`, 'target name (1-64 of A-Z a-z 0-9 _ . -)', t.name, { quote: false });
  const badUrl = (why: string) => new ValidationError(`${path}.url`, why, t.url, { quote: false });
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
    ...(t.name !== undefined ? { name: t.name } : {}),
    protocol: scheme.protocol,
    url: clean,
    display,
    username,
    password,
    tls: scheme.tls,
    ...(ca ? { ca } : {}),
    transport,
    secrets: [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length),
    identity: identityOf(t.url, u, clean, display),
  };
}

/** A path segment or query value alone is concealed from this length on: stream keys and tokens are long, words such as `live` are not. */
const LONE_TOKEN = 8;

/** The parts of a target's URL that say where it publishes, each with its placeholder (see `conceal`). */
function identityOf(raw: string, u: URL, clean: URL, display: string): Array<[string, string]> {
  const parts: Array<[string, string]> = [];
  for (const whole of [raw, u.href, clean.href, display]) parts.push([whole, '<target>']);
  // The server's own messages name it as host:port, with or without the brackets of an IPv6 address.
  parts.push([u.host, '<host>'], [clean.host, '<host>'], [u.hostname, '<host>'], [u.hostname.replace(/^\[|\]$/g, ''), '<host>']);
  for (const user of [u.username, safeDecode(u.username)]) parts.push([user, '<user>']);
  if (u.pathname.length > 1) {
    for (const path of [u.pathname, safeDecode(u.pathname)]) parts.push([path, '<path>'], [path.slice(1), '<path>']);
    // A stream key often travels alone (a server's "stream SECRETKEY not found").
    const last = u.pathname.split('/').at(-1)!;
    for (const seg of [last, safeDecode(last)]) if (seg.length >= LONE_TOKEN) parts.push([seg, '<path>']);
  }
  if (u.search) {
    parts.push([u.search, '<query>'], [u.search.slice(1), '<query>']);
    for (const [k, val] of u.searchParams) {
      if (k === 'transport') continue; // camd's own option, not the server's
      parts.push([`${k}=${val}`, '<query>'], [`${k}=${encodeURIComponent(val)}`, '<query>']);
      if (val.length >= LONE_TOKEN) parts.push([val, '<query>'], [encodeURIComponent(val), '<query>']);
    }
  }
  const seen = new Set<string>();
  return parts.filter(([text]) => text.length >= 3 && !seen.has(text) && seen.add(text)).sort((a, b) => b[0].length - a[0].length);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * `text` about a target (an error a server or a child process gave) as logs and health checks may
 * carry it: its secrets masked, and what locates the target (host, user, path, query) replaced by
 * placeholders, e.g. `<host>:8554: ECONNREFUSED`. Parts that begin or end with a letter or digit
 * are replaced as whole words only, so that a host `cam` leaves the word `camera` alone. For text
 * from outside (a server's answer, a child's stderr); camd's own messages name no target.
 */
export function conceal(text: string, t: Pick<ParsedTarget, 'secrets' | 'identity'>): string {
  let out = scrub(text, t.secrets);
  for (const [part, placeholder] of t.identity) {
    const escaped = part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const before = /^\w/.test(part) ? '(?<![\\w.-])' : '';
    const after = /\w$/.test(part) ? '(?![\\w-])' : '';
    out = out.replace(new RegExp(before + escaped + after, 'g'), placeholder);
  }
  return out;
}

/** What health checks, metrics and logs call a target: its name, else its position in the list. */
export function targetLabel(t: Pick<ParsedTarget, 'name'>, index: number): string {
  return t.name ?? `#${index}`;
}

/** A target's `ca`: PEM certificates (each must parse), or the absolute path of a PEM file. */
function parseCa(ca: unknown, tls: boolean, path: string): { pem: string } | { file: string } {
  if (!tls) throw new ValidationError(path, 'no ca for a URL without TLS (ca is for rtsps:// and rtmps://)', ca, { quote: false });
  if (typeof ca !== 'string' || ca.length === 0 || ca.length > MAX_CA)
    throw new ValidationError(path, `PEM certificates or a file path, at most ${MAX_CA} characters`, ca, { quote: false });
  if (ca.includes('-----BEGIN')) {
    const certs = ca.match(PEM_CERT) ?? [];
    if (certs.length === 0) throw new ValidationError(path, 'PEM certificates (-----BEGIN CERTIFICATE-----)', ca, { quote: false });
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
    throw new ValidationError(path, 'PEM certificates or the absolute path of a PEM file', ca, { quote: false });
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
  const d = `array of at most ${MAX_TARGETS} {stream, url, ca?, name?}`;
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
          name: {
            type: 'string',
            pattern: TARGET_NAME.source,
            description: 'What health checks, metrics and logs call the target (default: its position, #0, #1, …); never its URL',
          },
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
      if (!Array.isArray(x) || x.length > MAX_TARGETS) throw new ValidationError(path, d, x, { quote: false });
      const seen = new Set<string>();
      const names = new Set<string>();
      return x.map((t, i) => {
        const p = parseTarget(t as PublishTargetConfig, `${path}[${i}]`);
        const id = targetId(p);
        if (seen.has(id)) throw new ValidationError(`${path}[${i}]`, 'a target listed once (same stream and URL twice)', t, { quote: false });
        seen.add(id);
        if (p.name !== undefined) {
          if (names.has(p.name)) throw new ValidationError(`${path}[${i}].name`, 'a name no other target has', p.name);
          names.add(p.name);
        }
        return copyTarget(t as PublishTargetConfig, (t as PublishTargetConfig).url);
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
  return targets.map((t) => copyTarget(t, redactUrl(t.url)));
}

/** `t`'s known fields, in a stable order, with `url` as given. */
function copyTarget(t: PublishTargetConfig, url: string): PublishTargetConfig {
  return { stream: t.stream, url, ...(t.ca !== undefined ? { ca: t.ca } : {}), ...(t.name !== undefined ? { name: t.name } : {}) };
}
