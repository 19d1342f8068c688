import {
  definePlugin,
  digestChallenge,
  DIGEST_REALM,
  httpLogin,
  NonceManager,
  PLUGIN_API_VERSION,
  type Caller,
  type FastifyRequest,
  type PluginContext,
} from '@camd/core';
import { DEVICE_OPS } from './device-ops.js';
import { DiscoveryService } from './discovery.js';
import { EventBroker } from './events.js';
import { EVENT_OPS, EVENT_SERVICE_PATH, SUBSCRIPTION_OPS } from './event-ops.js';
import { MEDIA_OPS } from './media-ops.js';
import { MEDIA2_OPS, MEDIA2_SERVICE_PATH } from './media2-ops.js';
import { PRE_AUTH, type Op } from './operations.js';
import { optionsSchema, type OnvifOptions } from './options.js';
import { fixedScopes, onvifKeys } from './scopes.js';
import { envelope, faultEnvelope, MAX_BODY, parseSoap, SoapFault } from './soap.js';
import { refusalFault, UsernameTokenVerifier } from './security.js';

export const PLUGIN_NAME = '@camd/plugin-onvif';

export default definePlugin<OnvifOptions>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'ONVIF Profile S (and Profile T media): device, media and Media2 services (SOAP 1.2, WS-UsernameToken and HTTP Digest) and WS-Discovery',
  stateKeys: Object.values(onvifKeys),
  optionsSchema,
  setup(ctx) {
    const tokens = new UsernameTokenVerifier(ctx.users);
    const nonces = new NonceManager();
    const soapReply = (status: number, xml: string, extra: Record<string, string> = {}) => ({ status, xml, extra });
    const events = new EventBroker(ctx.streams);
    ctx.hooks.started.tap(PLUGIN_NAME, () => events.start());
    ctx.onClose(() => events.stop());

    /**
     * The caller of a request: WS-UsernameToken in the envelope, else HTTP Digest, else nobody. Both go
     * through the daemon's brute-force guard; a refused token throws its fault, a refused Digest login
     * leaves pre-auth operations answerable (GetSystemDateAndTime is how a client learns the clock).
     */
    const authenticate = async (
      req: FastifyRequest,
      security: Parameters<UsernameTokenVerifier['verify']>[0] | undefined,
    ): Promise<{ caller?: Caller; stale?: boolean; refused?: SoapFault }> => {
      if (security) return { caller: await tokens.verify(security, req.socket.remoteAddress) };
      const outcome = (await httpLogin(ctx.users, nonces, req, { protocol: 'onvif', basic: false })) ?? ctx.users.guard.lockedOut(req.socket.remoteAddress);
      if (outcome?.kind === 'refused') return { refused: refusalFault(outcome) };
      return { caller: outcome?.kind === 'ok' ? outcome.caller : undefined, stale: outcome?.kind === 'stale' };
    };

    const handle = async (ops: Record<string, Op>, req: FastifyRequest) => {
      try {
        const soap = parseSoap(typeof req.body === 'string' ? req.body : '');
        const op = ops[soap.operation];
        if (!op) throw new SoapFault(400, 'env:Sender', 'ter:ActionNotSupported', `${soap.operation} is not supported`);
        const who = await authenticate(req, soap.security);
        if (!who.caller && !PRE_AUTH.has(soap.operation)) {
          if (who.refused) throw who.refused;
          // ONVIF Core 5.9.1: no (valid) credentials → HTTP 401 with the Digest challenge.
          return soapReply(
            401,
            faultEnvelope(new SoapFault(401, 'env:Sender', 'ter:NotAuthorized', 'credentials are required (WS-UsernameToken or HTTP Digest)')),
            {
              'WWW-Authenticate': digestChallenge(DIGEST_REALM, nonces.issue(), { qop: true, stale: who.stale }),
            },
          );
        }
        const host = (req.headers.host ?? req.hostname).replace(/:\d+$/, '');
        const subscription = (req.params as { id?: string } | undefined)?.id;
        const xml = await op({
          ctx,
          caller: who.caller,
          params: soap.params,
          host,
          // Over HTTPS the services' addresses are https:// (fastify's protocol: the socket is TLS).
          origin: `${req.protocol}://${req.headers.host ?? req.hostname}`,
          events,
          subscription,
        });
        return soapReply(200, envelope(xml));
      } catch (err) {
        const f = err instanceof SoapFault ? err : new SoapFault(500, 'env:Receiver', 'ter:Action', 'internal error');
        // Failed logins are logged by the guard (within a budget); the other refusals need no line each.
        if (!(err instanceof SoapFault)) ctx.logger.error({ err }, 'onvif: request failed');
        else if (f.subcode === 'ter:NotAuthorized') ctx.logger.debug({ client: req.socket.remoteAddress }, `onvif: ${f.reason}`);
        // A 401 tells the client how to authenticate, whichever scheme failed; a refusal when to come back.
        const extra: Record<string, string> = {};
        if (f.status === 401) extra['WWW-Authenticate'] = digestChallenge(DIGEST_REALM, nonces.issue(), { qop: true });
        if (f.retryAfterS !== undefined) extra['Retry-After'] = String(f.retryAfterS);
        return soapReply(f.status, faultEnvelope(f), extra);
      }
    };

    ctx.http.register(async (app) => {
      for (const type of ['application/soap+xml', 'text/xml', 'application/xml']) {
        app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
      }
      // A body over the limit gets a SOAP fault too (fastify's own 413 would be JSON).
      app.setErrorHandler(async (err, _req, reply) => {
        const e = err as { statusCode?: number; message: string };
        const status = e.statusCode === 413 ? 413 : e.statusCode === 415 ? 415 : 400;
        return reply
          .code(status)
          .type('application/soap+xml; charset=utf-8')
          .send(faultEnvelope(new SoapFault(status, 'env:Sender', status === 413 ? 'ter:InvalidArgVal' : 'ter:WellFormed', e.message)));
      });
      for (const [path, ops] of [
        ['/onvif/device_service', DEVICE_OPS],
        ['/onvif/media_service', MEDIA_OPS],
        [MEDIA2_SERVICE_PATH, MEDIA2_OPS],
        [EVENT_SERVICE_PATH, EVENT_OPS],
        [`${EVENT_SERVICE_PATH}/subscription/:id`, SUBSCRIPTION_OPS],
      ] as const) {
        app.post(path, { schema: { hide: true } }, async (req, reply) => {
          const r = await handle(ops, req);
          return reply.code(r.status).headers(r.extra).type('application/soap+xml; charset=utf-8').send(r.xml);
        });
      }
    });

    setupDiscovery(ctx);
  },
});

function setupDiscovery(ctx: PluginContext<OnvifOptions>): void {
  if (ctx.options.discoveryPort === 0) return;
  let discovery: DiscoveryService | undefined;
  ctx.hooks.started.tapPromise(PLUGIN_NAME, async () => {
    const d = new DiscoveryService({
      port: ctx.options.discoveryPort,
      address: ctx.options.discoveryAddress,
      interfaceAddress: ctx.options.discoveryInterface,
      httpPort: () => ctx.http.port,
      httpsPort: () => ctx.http.tlsPort,
      plainHttp: () => ctx.http.plain === 'on',
      httpHost: (ctx.config.http as { host?: string } | undefined)?.host,
      scopes: () => [...fixedScopes(ctx.options), ...ctx.state.get<string[]>('onvifScopes')],
      discoverable: () => ctx.state.get<string>('onvifDiscoveryMode') === 'Discoverable',
      log: ctx.logger,
    });
    try {
      await d.start();
      discovery = d;
    } catch (err) {
      ctx.logger.error({ err, port: ctx.options.discoveryPort }, 'onvif discovery: cannot listen; the device services still work');
    }
  });
  const off = ctx.state.watch<string>('onvifDiscoveryMode', (c) => void (c.value === 'Discoverable' && discovery?.hello()));
  ctx.onClose(async () => {
    off();
    await discovery?.stop();
  });
}
