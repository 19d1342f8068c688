import { definePlugin, PLUGIN_API_VERSION } from '@camd/core';
import { DEVICE_OPS, MEDIA_OPS, PRE_AUTH } from './operations.js';
import { envelope, faultEnvelope, MAX_BODY, parseSoap, SoapFault } from './soap.js';
import { UsernameTokenVerifier } from './security.js';

export const PLUGIN_NAME = '@camd/plugin-onvif';

export default definePlugin({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'ONVIF Profile S device and media services (work in progress: the core NVR path)',
  setup(ctx) {
    const verifier = new UsernameTokenVerifier(ctx.users);
    ctx.http.register(async (app) => {
      for (const type of ['application/soap+xml', 'text/xml', 'application/xml']) {
        app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
      }
      const service = (ops: Record<string, (o: never) => string | Promise<string>>, path: string) =>
        app.post(path, { schema: { hide: true } }, async (req, reply) => {
          try {
            const soap = parseSoap(typeof req.body === 'string' ? req.body : '');
            const op = ops[soap.operation];
            if (!op) throw new SoapFault(400, 'env:Sender', 'ter:ActionNotSupported', `${soap.operation} is not supported`);
            const caller = soap.security ? await verifier.verify(soap.security) : undefined;
            if (!caller && !PRE_AUTH.has(soap.operation)) throw new SoapFault(400, 'env:Sender', 'ter:NotAuthorized', 'credentials are required');
            const host = (req.headers.host ?? req.hostname).replace(/:\d+$/, '');
            const xml = await (op as (o: unknown) => string | Promise<string>)({ ctx, caller, params: soap.params, host, origin: `http://${req.headers.host ?? req.hostname}` });
            return reply.type('application/soap+xml; charset=utf-8').send(envelope(xml));
          } catch (err) {
            const f = err instanceof SoapFault ? err : new SoapFault(500, 'env:Receiver', 'ter:Action', 'internal error');
            if (!(err instanceof SoapFault)) ctx.logger.error({ err }, 'onvif: request failed');
            else if (f.subcode === 'ter:NotAuthorized') ctx.logger.warn({ ip: req.ip }, `onvif: ${f.reason}`);
            return reply.code(f.status).type('application/soap+xml; charset=utf-8').send(faultEnvelope(f));
          }
        });
      service(DEVICE_OPS, '/onvif/device_service');
      service(MEDIA_OPS, '/onvif/media_service');
    });
  },
});
