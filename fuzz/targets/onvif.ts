/**
 * ONVIF: SOAP 1.2 requests with a WS-Security UsernameToken (plugin-onvif soap.ts, security.ts), and
 * WS-Discovery datagrams (discovery.ts). A SOAP refusal is a `SoapFault` (answered as a SOAP fault
 * with its status); a datagram handler must never throw (it runs in a socket's `message` event).
 */
import { createHash } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import fc from 'fast-check';
import { createLogger, UserStore } from '../../packages/core/src/index.js';
import { DiscoveryService } from '../../packages/plugin-onvif/src/discovery.js';
import { UsernameTokenVerifier } from '../../packages/plugin-onvif/src/security.js';
import { NS, parseSoap, SoapFault } from '../../packages/plugin-onvif/src/soap.js';
import { Finding, type FuzzTarget } from '../harness.js';
import { mutated, showBytes, token, type Mutated } from '../mutate.js';

const PASSWORD = 'onvif-pass-1';
const NOW = Date.parse('2026-11-29T20:00:00Z');
let runs = 0;
const users = await UserStore.open({ configUsers: [{ username: 'nvr', password: PASSWORD, permissions: ['Media_rw'] }] });
// PasswordText runs scrypt (slow on purpose, not a parser): compared in plaintext here; PasswordDigest is checked for real.
users.verify = async (u, p) => (u === 'nvr' && p === PASSWORD ? users.caller(u) : undefined);

const OPERATIONS = [
  ['tds', 'GetDeviceInformation', ''],
  ['tds', 'GetCapabilities', '<tds:Category>All</tds:Category>'],
  ['trt', 'GetProfiles', ''],
  [
    'trt',
    'GetStreamUri',
    '<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>profile_1</trt:ProfileToken>',
  ],
  ['tds', 'CreateUsers', '<tds:User><tt:Username>x</tt:Username><tt:Password>y</tt:Password><tt:UserLevel>User</tt:UserLevel></tds:User>'],
  ['tev', 'PullMessages', '<tev:Timeout>PT5S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit>'],
] as const;

const PW_TYPE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#Password';

const soapRequest = fc
  .record({
    op: fc.nat(OPERATIONS.length - 1),
    token: fc.option(
      fc.record({
        user: fc.oneof({ weight: 4, arbitrary: fc.constant('nvr') }, { weight: 1, arbitrary: token() }),
        digest: fc.boolean(),
        goodPassword: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        nonce: fc.uint8Array({ minLength: 0, maxLength: 20 }),
        // Mostly within the ±5 min window, sometimes far outside it.
        createdOffsetS: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: -200, max: 200 }) },
          { weight: 1, arbitrary: fc.integer({ min: -100_000, max: 100_000 }) },
        ),
        created: fc.option(fc.constantFrom('not a date', '', '2026-13-45T99:99:99Z', '+275760-09-13T00:00:00.000Z'), { nil: undefined }),
        typeAttr: fc.boolean(),
      }),
      { nil: undefined },
    ),
  })
  .map(({ op, token: t }) => {
    const [prefix, name, body] = OPERATIONS[op]!;
    let header = '';
    let valid = false;
    if (t) {
      const created = t.created ?? new Date(NOW + t.createdOffsetS * 1000).toISOString();
      const nonce = Buffer.from(t.nonce);
      const pw = t.goodPassword ? PASSWORD : 'wrong';
      const password = t.digest
        ? createHash('sha1')
            .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(pw)]))
            .digest('base64')
        : pw;
      const typeAttr = t.typeAttr ? ` Type="${PW_TYPE}${t.digest ? 'Digest' : 'Text'}"` : '';
      header =
        `<env:Header><wsse:Security xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}"><wsse:UsernameToken>` +
        `<wsse:Username>${t.user}</wsse:Username><wsse:Password${typeAttr}>${password}</wsse:Password>` +
        `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created>` +
        '</wsse:UsernameToken></wsse:Security></env:Header>';
      // The verifier accepts a nonce once: each input gets a fresh verifier, so a pristine token is judged alone.
      valid =
        t.user === 'nvr' &&
        t.goodPassword &&
        nonce.length > 0 &&
        t.created === undefined &&
        Math.abs(t.createdOffsetS) <= 300 &&
        (t.digest ? t.typeAttr : true);
    }
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="${NS.env}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}" xmlns:tev="${NS.tev}">` +
      `${header}<env:Body><${prefix}:${name}>${body}</${prefix}:${name}></env:Body></env:Envelope>`;
    return { bytes: Buffer.from(xml, 'utf8'), meta: { valid } };
  });

export const soap: FuzzTarget<Mutated<{ valid: boolean }>> = {
  name: 'soap-wssecurity',
  what: 'parseSoap (plugin-onvif soap.ts) + UsernameTokenVerifier.verify (security.ts); pristine valid tokens must pass',
  arbitrary: mutated(soapRequest),
  show: (x) => showBytes(x.bytes),
  refusal: (err) => err instanceof SoapFault && err.status >= 400 && err.status < 500,
  async run(x) {
    const req = parseSoap(x.bytes.toString('utf8'));
    if (typeof req.operation !== 'string' || req.operation === '') throw new Finding('no operation');
    if (typeof req.params !== 'object' || req.params === null) throw new Finding('params not an object');
    if (!req.security) {
      if (x.pristine && x.meta.valid) throw new Finding('the token was lost');
      return;
    }
    for (const k of ['username', 'password'] as const) if (typeof req.security[k] !== 'string') throw new Finding(`${k} not a string`);
    try {
      // An address per input: the brute-force guard's lockouts must not refuse the valid ones after wrong ones.
      await new UsernameTokenVerifier(users).verify(req.security, `10.0.${(runs >> 8) & 255}.${runs++ & 255}`, NOW);
    } catch (err) {
      if (x.pristine && x.meta.valid) throw new Finding(`valid token refused: ${(err as Error).message}`);
      throw err;
    }
  },
};

const WSD = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';
const WSA = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';

const datagram = fc
  .record({
    kind: fc.constantFrom('Probe', 'Resolve', 'Hello', 'Bye', 'Other'),
    messageId: fc.option(token(undefined, 36), { nil: undefined }),
    types: fc.option(fc.constantFrom('dn:NetworkVideoTransmitter', 'tds:Device', 'dn:NetworkVideoTransmitter tds:Device', 'x:Printer', ''), { nil: undefined }),
    scopes: fc.option(
      fc.array(fc.constantFrom('onvif://www.onvif.org/type/video_encoder', 'onvif://www.onvif.org/name/camd', 'onvif://www.onvif.org/location/', 'x/'), {
        maxLength: 3,
      }),
      { nil: undefined },
    ),
    address: fc.constantFrom('urn:uuid:00000000-0000-0000-0000-000000000000', 'ENDPOINT'),
  })
  .map((d) => {
    const header = `<s:Header>${d.messageId === undefined ? '' : `<a:MessageID>urn:uuid:${d.messageId}</a:MessageID>`}<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To><a:Action>${WSD}/${d.kind}</a:Action></s:Header>`;
    const inner =
      d.kind === 'Probe'
        ? `${d.types === undefined ? '' : `<d:Types>${d.types}</d:Types>`}${d.scopes === undefined ? '' : `<d:Scopes>${d.scopes.join(' ')}</d:Scopes>`}`
        : d.kind === 'Resolve'
          ? `<a:EndpointReference><a:Address>${d.address}</a:Address></a:EndpointReference>`
          : '';
    const body = `<s:Body><d:${d.kind}>${inner}</d:${d.kind}></s:Body>`;
    const xml = `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="${WSA}" xmlns:d="${WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">${header}${body}</s:Envelope>`;
    return { bytes: Buffer.from(xml, 'utf8'), meta: undefined };
  });

/** A discovery service that is never started: it parses and decides, and its replies go nowhere (no socket). */
const discovery = new DiscoveryService({
  port: 3702,
  address: '239.255.255.250',
  httpPort: () => 8080,
  httpHost: '127.0.0.1',
  scopes: () => ['onvif://www.onvif.org/type/video_encoder', 'onvif://www.onvif.org/name/camd', 'onvif://www.onvif.org/location/'],
  discoverable: () => true,
  log: createLogger({ level: 'silent' }),
});
const onMessage = (discovery as unknown as { onMessage(msg: Buffer, from: RemoteInfo): void }).onMessage.bind(discovery);

export const wsDiscovery: FuzzTarget<Mutated & { source: number }> = {
  name: 'ws-discovery',
  what: 'DiscoveryService.onMessage (plugin-onvif discovery.ts): Probe/Resolve/Hello/Bye datagrams; must never throw',
  arbitrary: fc.tuple(mutated(datagram), fc.nat(255)).map(([m, source]) => ({ ...m, source })),
  show: (x) => showBytes(x.bytes),
  run(x) {
    const msg = Buffer.from(x.bytes.toString('latin1').replaceAll('ENDPOINT', discovery.endpoint), 'latin1');
    // Many sources, so that the per-source reply limit does not hide the reply path.
    onMessage(msg, { address: `10.0.${x.source}.1`, port: 3702, family: 'IPv4', size: msg.length });
  },
};
