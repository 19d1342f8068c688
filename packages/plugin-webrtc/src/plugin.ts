import {
  definePlugin,
  MEDIA_READ,
  MEDIA_WRITE,
  PLUGIN_API_VERSION,
  v,
  type Caller,
  type FastifyReply,
  type FastifyRequest,
  type StateKeyDefinition,
} from '@camd/core';
import { iceServersValidator } from './ice-servers.js';
import { WebRtcErrors } from './errors.js';
import { MAX_SDP_BYTES, parseOfferJson } from './offer.js';
import { optionsSchema, type WebRtcOptions } from './options.js';
import { WebRtcService } from './service.js';
import { VIEWER_PAGE } from './viewer-page.js';
import type { IceServer } from './viewer.js';

export const PLUGIN_NAME = '@camd/plugin-webrtc';

/** WebRTC settings: webrtcEnabled (default off), webrtcIceServers (default one public STUN server). */
export const webrtcKeys = {
  webrtcEnabled: {
    key: 'webrtcEnabled',
    default: false,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'WebRTC playback on/off (off closes every peer connection)',
  },
  webrtcIceServers: {
    key: 'webrtcIceServers',
    default: [{ urls: ['stun:stun.l.google.com:19302'] }] as IceServer[],
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: iceServersValidator,
    // TURN credentials: a refused value is described in errors and logs, never quoted.
    secret: true,
    description: 'ICE servers for the daemon and the viewer page (RTCIceServer list)',
  },
} satisfies Record<string, StateKeyDefinition<any>>;

/** Media_r or Media_rw (and Admin) may watch. */
const VIEWERS = MEDIA_READ;

export default definePlugin<WebRtcOptions>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'WebRTC playback for browsers: the offer endpoint, WHEP and a viewer page (werift, no transcoding)',
  stateKeys: Object.values(webrtcKeys),
  optionsSchema,
  setup(ctx) {
    if ((ctx.options.icePortMin === undefined) !== (ctx.options.icePortMax === undefined) || (ctx.options.icePortMin ?? 0) > (ctx.options.icePortMax ?? 0)) {
      throw new Error('options icePortMin and icePortMax go together, with icePortMin <= icePortMax');
    }
    const service = new WebRtcService(ctx);
    const auth = ctx.http.requirePermission(VIEWERS);

    // Errors are thrown (WebRtcErrors, core's STREAM_UNKNOWN) and answered by core's error handler;
    // a full house also says when to come back.
    const fail = (reply: FastifyReply, err: unknown): never => {
      if (err instanceof WebRtcErrors.LIMIT || err instanceof WebRtcErrors.USER_LIMIT) reply.header('Retry-After', '5');
      if (err instanceof WebRtcErrors.NOT_READY) reply.header('Retry-After', '1');
      throw err;
    };
    const open = (req: FastifyRequest, stream: string | undefined, offerSdp: string) =>
      service.open({ stream, caller: ctx.http.caller(req) as Caller, remoteAddress: req.ip, offerSdp });
    /** The session's owner or an admin may end it; others learn nothing about it. */
    const owned = (req: FastifyRequest, id: string) => {
      const viewer = service.get(id);
      const caller = ctx.http.caller(req)!;
      return viewer && (viewer.caller.username === caller.username || caller.permissions.includes('Admin')) ? viewer : undefined;
    };

    ctx.http.register(async (app) => {
      for (const type of ['application/sdp', 'application/trickle-ice-sdpfrag']) {
        app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_SDP_BYTES }, (_req, body, done) => done(null, body));
      }

      app.post<{ Querystring: { stream?: string } }>(
        '/api/webrtc/offer',
        {
          preHandler: auth,
          bodyLimit: MAX_SDP_BYTES,
          schema: {
            summary:
              "Starts a WebRTC session: POST the browser's offer {type, sdp} (JSON.stringify(offer)), get the answer {type, sdp}; Location names the session",
            querystring: { type: 'object', properties: { stream: { type: 'string', maxLength: 64 } } },
          },
        },
        async (req, reply) => {
          try {
            const { viewer, answer } = await open(req, req.query.stream, parseOfferJson(req.body));
            return reply.header('Location', `/api/webrtc/sessions/${viewer.id}`).send({ type: 'answer', sdp: answer });
          } catch (err) {
            return fail(reply, err);
          }
        },
      );
      app.delete<{ Params: { id: string } }>(
        '/api/webrtc/sessions/:id',
        { preHandler: auth, schema: { summary: 'Ends a session started with the offer endpoint' } },
        async (req, reply) => {
          const viewer = owned(req, req.params.id);
          if (!viewer) throw new WebRtcErrors.SESSION('session');
          await viewer.close('closed by the client');
          return reply.code(204).send();
        },
      );

      // WHEP (RFC 9725): SDP in, 201 + Location + SDP out; DELETE on the location ends the session.
      app.post<{ Params: { stream: string } }>(
        '/whep/:stream',
        { preHandler: auth, schema: { summary: 'WHEP endpoint (RFC 9725): POST application/sdp' } },
        async (req, reply) => {
          if (
            !String(req.headers['content-type'] ?? '')
              .toLowerCase()
              .startsWith('application/sdp') ||
            typeof req.body !== 'string'
          ) {
            throw new WebRtcErrors.WHEP_NOT_SDP();
          }
          try {
            const { viewer, answer } = await open(req, req.params.stream, req.body);
            const links = ctx.state
              .get<IceServer[]>('webrtcIceServers')
              .flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).map((u) => `<${u}>; rel="ice-server"`));
            if (links.length) reply.header('Link', links.join(', '));
            return reply
              .code(201)
              .header('Location', `/whep/${encodeURIComponent(viewer.stream)}/sessions/${viewer.id}`)
              .type('application/sdp')
              .send(answer);
          } catch (err) {
            return fail(reply, err);
          }
        },
      );
      app.delete<{ Params: { stream: string; id: string } }>(
        '/whep/:stream/sessions/:id',
        { preHandler: auth, schema: { summary: 'Ends a WHEP session' } },
        async (req, reply) => {
          const viewer = owned(req, req.params.id);
          if (!viewer || viewer.stream !== req.params.stream) throw new WebRtcErrors.SESSION('WHEP session');
          await viewer.close('WHEP DELETE');
          return reply.code(200).send();
        },
      );
      // Trickle ICE and ICE restarts are not offered: the answer carries every candidate (RFC 9725 §4.3.1).
      app.patch('/whep/:stream/sessions/:id', { schema: { hide: true } }, async (_req, reply) => {
        reply.header('Allow', 'DELETE');
        throw new WebRtcErrors.TRICKLE();
      });

      app.get('/view', { preHandler: auth, schema: { summary: 'Viewer page: live video, statistics and settings' } }, async (_req, reply) =>
        reply
          .type('text/html; charset=utf-8')
          .header('Cache-Control', 'no-store')
          .header('Content-Security-Policy', "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src 'self' blob:")
          .send(VIEWER_PAGE),
      );
      app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/view'));
      app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());

      // WHEP players run on other origins: allow them (credentials travel in an explicit header, not cookies).
      app.addHook('onRequest', async (req, reply) => {
        if (!req.url.startsWith('/whep/')) return;
        reply.header('Access-Control-Allow-Origin', '*').header('Access-Control-Expose-Headers', 'Location, Link, Content-Type');
      });
      app.options('/whep/*', { schema: { hide: true } }, async (_req, reply) =>
        reply
          .code(204)
          .header('Access-Control-Allow-Methods', 'POST, DELETE, PATCH, OPTIONS')
          .header('Access-Control-Allow-Headers', 'Authorization, Content-Type')
          .header('Access-Control-Max-Age', '600')
          .header('Accept-Post', 'application/sdp')
          .send(),
      );
    });

    // /api/plugins lists the transport while it serves: from start when enabled, and with every switch.
    const transport = { plugin: PLUGIN_NAME, protocol: 'webrtc', urls: ['/api/webrtc/offer', '/whep/<stream>', '/view'] };
    const announce = (on: boolean) => (on ? ctx.hooks.transportStarted : ctx.hooks.transportStopped).promise(transport);
    const offEnabled = ctx.state.watch<boolean>('webrtcEnabled', (change) => {
      if (!change.value) void service.closeAll('webrtcEnabled set to false');
      void announce(change.value).catch((err) => ctx.logger.warn({ err }, 'webrtc: announcing the transport failed'));
    });
    ctx.hooks.collectStats.tap(PLUGIN_NAME, (report) => {
      for (const stream of Object.keys(report)) (report[stream] as Record<string, unknown>).webrtc = service.statsFor(stream);
      return report;
    });
    ctx.hooks.started.tapPromise(PLUGIN_NAME, async () => {
      ctx.logger.info(
        { enabled: ctx.state.get('webrtcEnabled'), maxViewers: ctx.options.maxViewers },
        'webrtc: offer endpoint /api/webrtc/offer, WHEP /whep/<stream>, viewer /view',
      );
      if (ctx.state.get<boolean>('webrtcEnabled')) await announce(true);
    });
    ctx.onClose(async () => {
      offEnabled();
      await service.closeAll('daemon stopping');
    });
  },
});
