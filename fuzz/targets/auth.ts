/**
 * `Authorization` headers (Basic and Digest), as RTSP and the HTTP API read them: the parser in core
 * (auth/http-digest.ts), the Digest check with its signed nonces, and RTSP's RtspAuth.check (through
 * the brute-force guard: each input comes from an address of its own, so that the guard's lockouts,
 * which are its job, do not refuse the valid inputs that follow a run of wrong ones).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { DIGEST_REALM, digestVerdict, NonceManager, parseAuthorization, UserStore } from '../../packages/core/src/index.js';
import { RtspAuth } from '../../packages/plugin-rtsp/src/rtsp-auth.js';
import { Finding, type FuzzTarget } from '../harness.js';
import { mutated, showBytes, token, type Mutated } from '../mutate.js';

const PASSWORD = 'viewer-pass-1';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

const users = await UserStore.open({ configUsers: [{ username: 'viewer', password: PASSWORD, permissions: ['Media_r'] }] });
// Basic checks run scrypt (tens of ms, on purpose, and not a parser); the fuzzer compares plaintext
// instead, so that a million headers take seconds. Digest (HA1) is checked for real.
users.verify = async (u, p) => (u === 'viewer' && p === PASSWORD ? users.caller(u) : undefined);
const nonces = new NonceManager();
const rtspAuth = new RtspAuth(users, ['digest', 'basic']);
/** RtspAuth binds its nonces to a connection: the fuzzer's requests all come on this one. */
const CONNECTION = 'fuzz-connection';
const RTSP_URL = 'rtsp://127.0.0.1:8554/stream1';
let addresses = 0;
const nextAddress = () => `10.${(addresses >> 16) & 255}.${(addresses >> 8) & 255}.${addresses++ & 255}`;
// The nonces are RtspAuth's own (private): fresh ones from its challenge, so that valid headers exist.
// They live 5 minutes; a long run issues new ones every minute (inputs are generated just before use).
let fresh: string[] = [];
let ownNonces: string[] = [];
let issuedAt = 0;
function nonceSets(): { rtsp: string[]; core: string[] } {
  if (Date.now() - issuedAt > 60_000) {
    const challenge = () =>
      (rtspAuth as unknown as { challenge(connection: string, stale: boolean): Record<string, string> }).challenge(CONNECTION, false)['WWW-Authenticate'] ?? '';
    fresh = Array.from({ length: 8 }, () => /nonce="([^"]+)"/.exec(challenge())?.[1] ?? 'none');
    ownNonces = Array.from({ length: 8 }, () => nonces.issue());
    issuedAt = Date.now();
  }
  return { rtsp: fresh, core: ownNonces };
}

interface Digest {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  qop: 'none' | 'auth' | 'auth-int';
  nc: string;
  cnonce: string;
  algorithm: string | undefined;
  goodResponse: boolean;
  badResponse: string;
  quoteAll: boolean;
  order: number[];
  extra: [string, string][];
}

const digest: fc.Arbitrary<{ header: string; valid: boolean; nonceSet: 'rtsp' | 'core'; once: boolean }> = fc
  .record({
    username: fc.oneof({ weight: 4, arbitrary: fc.constant('viewer') }, { weight: 1, arbitrary: token() }),
    realm: fc.oneof({ weight: 4, arbitrary: fc.constant(DIGEST_REALM) }, { weight: 1, arbitrary: token() }),
    nonceSet: fc.constantFrom('rtsp' as const, 'core' as const),
    nonceIndex: fc.nat(7),
    nonceOther: fc.option(fc.oneof(token(undefined, 40), fc.constantFrom('a.b.c', '..', 'zzzzzzzzzzzzzz.00.xxxxxxxxxxxxxxxxxxxxxx')), { nil: undefined }),
    uri: fc.constantFrom(RTSP_URL, '/api/stats', '*'),
    qop: fc.constantFrom('none' as const, 'auth' as const, 'auth-int' as const),
    nc: fc.constantFrom('00000001', '00000002', ''),
    cnonce: token('0123456789abcdef', 16),
    algorithm: fc.constantFrom(undefined, 'MD5', 'md5', 'SHA-256', 'MD5-sess'),
    goodResponse: fc.boolean(),
    badResponse: token('0123456789abcdef', 32),
    quoteAll: fc.boolean(),
    order: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7, 8], { minLength: 9, maxLength: 9 }),
    extra: fc.array(fc.tuple(token(), token()), { maxLength: 2 }),
  })
  .map((d) => {
    const nonce = d.nonceOther ?? nonceSets()[d.nonceSet][d.nonceIndex]!;
    const x: Digest = { ...d, nonce };
    const ha1 = md5(`${x.username}:${x.realm}:${PASSWORD}`);
    const ha2 = md5(`DESCRIBE:${x.uri}`);
    const response = x.goodResponse
      ? x.qop === 'none'
        ? md5(`${ha1}:${x.nonce}:${ha2}`)
        : md5(`${ha1}:${x.nonce}:${x.nc}:${x.cnonce}:${x.qop}:${ha2}`)
      : d.badResponse;
    const q = (k: string, v: string) => `${k}="${v}"`;
    const parts = [
      q('username', x.username),
      q('realm', x.realm),
      q('nonce', x.nonce),
      q('uri', x.uri),
      q('response', response),
      x.algorithm ? (x.quoteAll ? q('algorithm', x.algorithm) : `algorithm=${x.algorithm}`) : '',
      x.qop !== 'none' ? (x.quoteAll ? q('qop', x.qop) : `qop=${x.qop}`) : '',
      x.qop !== 'none' ? `nc=${x.nc}` : '',
      x.qop !== 'none' ? q('cnonce', x.cnonce) : '',
    ];
    const ordered = x.order.map((i) => parts[i]!).filter(Boolean);
    for (const [k, v] of x.extra) ordered.push(q(k, v));
    const valid =
      x.username === 'viewer' &&
      x.realm === DIGEST_REALM &&
      d.nonceOther === undefined &&
      x.goodResponse &&
      (x.algorithm === undefined || x.algorithm.toUpperCase() === 'MD5') &&
      (x.qop === 'none' || (x.qop === 'auth' && x.nc !== '')) &&
      (d.nonceSet === 'core' || x.uri === RTSP_URL) &&
      !x.extra.some(([k]) => ['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'qop', 'nc', 'cnonce'].includes(k.toLowerCase()));
    // With qop, each nc of a nonce is good once (replay protection): a repeat is answered stale.
    return { header: `Digest ${ordered.join(', ')}`, valid, nonceSet: d.nonceSet, once: x.qop !== 'none' };
  });

const basic = fc
  .tuple(fc.oneof(fc.constant('viewer'), token()), fc.oneof(fc.constant(PASSWORD), fc.string({ maxLength: 20 })), fc.constantFrom('Basic', 'basic', 'BASIC'))
  .map(([u, p, scheme]) => ({
    header: `${scheme} ${Buffer.from(`${u}:${p}`).toString('base64')}`,
    valid: u === 'viewer' && p === PASSWORD,
    nonceSet: 'rtsp' as const,
    once: false,
  }));

/** A header as clients send them, before mutation; exported for the RTSP request generator. */
export const authorizationHeader: fc.Arbitrary<string> = fc.oneof(digest, basic).map((h) => h.header);

type Input = Mutated<{ valid: boolean; nonceSet: 'rtsp' | 'core'; once: boolean }>;

export const authorization: FuzzTarget<Input> = {
  name: 'authorization',
  what: 'parseAuthorization + digestVerdict (core auth/http-digest.ts), RtspAuth.check (plugin-rtsp rtsp-auth.ts); pristine valid credentials must pass',
  arbitrary: mutated(fc.oneof(digest, basic).map(({ header, ...meta }) => ({ bytes: Buffer.from(header, 'utf8'), meta }))),
  show: (x) => showBytes(x.bytes),
  async run(x) {
    // Headers reach the parser as latin1 text (RTSP) or as Node's header strings (HTTP): the same here.
    const header = x.bytes.toString('latin1');
    const parsed = parseAuthorization(header);
    if (parsed?.scheme === 'digest') {
      for (const k of ['username', 'realm', 'nonce', 'uri', 'response']) if (!parsed.params[k]) throw new Finding(`digest without ${k} accepted`);
      digestVerdict(users, nonces, parsed.params, { method: 'DESCRIBE', uriMatches: () => true });
    } else if (parsed?.scheme === 'basic' && (parsed.username === '' || parsed.username.includes(':')))
      throw new Finding('basic user name empty or with a colon');
    const r = await rtspAuth.check({ method: 'DESCRIBE', url: RTSP_URL, authorization: header, address: nextAddress(), connection: CONNECTION });
    if (!r.ok && r.status === 401 && !r.headers['WWW-Authenticate']) throw new Finding('401 without a challenge');
    const replayed = !r.ok && x.meta.once && /stale=TRUE/.test(r.headers['WWW-Authenticate'] ?? '');
    if (x.pristine && x.meta.valid && x.meta.nonceSet === 'rtsp' && !r.ok && !replayed) throw new Finding('valid credentials refused');
  },
};
