import { createHash, randomBytes } from 'node:crypto';

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  readonly scheme: 'digest' | 'basic';
  readonly params: Readonly<Record<string, string>>;
}

const MAX_HEADER = 4096;

/**
 * Parses `WWW-Authenticate` values (RFC 7235; one header may hold several challenges, e.g.
 * `Digest realm="x", nonce="y", Basic realm="x"`). Schemes other than Digest and Basic are skipped;
 * malformed input gives what could be read, never an exception (it comes from the network).
 */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of values) {
    if (value.length > MAX_HEADER) continue;
    let current: { scheme: string; params: Record<string, string> } | undefined;
    let i = 0;
    const skip = (chars: RegExp) => {
      while (i < value.length && chars.test(value[i]!)) i++;
    };
    const token = () => {
      const start = i;
      skip(/[^\s,=]/);
      return value.slice(start, i);
    };
    while (i < value.length) {
      skip(/[\s,]/);
      const name = token();
      if (!name) {
        i++; // a stray `=`: skip it
        continue;
      }
      skip(/\s/);
      if (value[i] !== '=') {
        // A bare token starts a challenge (`Digest`, `Basic`).
        current = { scheme: name.toLowerCase(), params: {} };
        if (current.scheme === 'digest' || current.scheme === 'basic') out.push(current as Challenge);
        continue;
      }
      i++;
      skip(/\s/);
      let val = '';
      if (value[i] === '"') {
        i++;
        while (i < value.length && value[i] !== '"') {
          if (value[i] === '\\' && i + 1 < value.length) i++;
          val += value[i++];
        }
        i++;
      } else {
        const start = i;
        skip(/[^\s,]/);
        val = value.slice(start, i);
      }
      if (current) current.params[name.toLowerCase()] = val;
    }
  }
  return out;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/**
 * The client side of RTSP authentication: answers a server's challenge with Digest (MD5, with or
 * without qop=auth) when offered, Basic otherwise. The password stays inside this object.
 */
export class ClientAuth {
  private challenge?: Challenge;
  private nc = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** Takes the challenges of a 401; false when none can be answered (an unknown scheme or algorithm). */
  accept(challenges: readonly Challenge[]): boolean {
    const digest = challenges.find((c) => c.scheme === 'digest' && c.params.nonce && (!c.params.algorithm || c.params.algorithm.toUpperCase() === 'MD5'));
    const chosen = digest ?? challenges.find((c) => c.scheme === 'basic');
    if (!chosen) return false;
    this.challenge = chosen;
    this.nc = 0;
    return true;
  }

  get scheme(): 'digest' | 'basic' | undefined {
    return this.challenge?.scheme;
  }

  /** The `Authorization` value for a request, or undefined before any challenge. */
  header(method: string, uri: string): string | undefined {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    const p = c.params;
    const realm = p.realm ?? '';
    const ha1 = md5(`${this.username}:${realm}:${this.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const qops = (p.qop ?? '').split(',').map((q) => q.trim());
    const quote = (s: string) => s.replace(/["\\]/g, '\\$&');
    let v = `Digest username="${quote(this.username)}", realm="${quote(realm)}", nonce="${quote(p.nonce!)}", uri="${quote(uri)}"`;
    if (qops.includes('auth')) {
      const nc = (++this.nc).toString(16).padStart(8, '0');
      const cnonce = randomBytes(8).toString('hex');
      v += `, response="${md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`)}", qop=auth, nc=${nc}, cnonce="${cnonce}"`;
    } else {
      v += `, response="${md5(`${ha1}:${p.nonce}:${ha2}`)}"`;
    }
    if (p.algorithm) v += ', algorithm=MD5';
    if (p.opaque !== undefined) v += `, opaque="${quote(p.opaque)}"`;
    return v;
  }
}
