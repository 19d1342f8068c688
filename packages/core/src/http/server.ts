import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Permission } from '../auth/permissions.js';
import type { UserStore } from '../auth/users.js';
import type { HttpScope, RouteInfo } from '../plugins/contract.js';
import { AUTH_HANDLER, callerOf, requirePermission } from './auth.js';
import { HTTP_LIMITS, type HttpLimits } from '../config.js';
import { CoreErrors } from '../errors.js';
import { LogThrottle } from '../net/log-throttle.js';
import { HttpConnections } from './connections.js';
import { httpError, statusText } from './errors.js';
import { RequestPacer } from './pacer.js';
import { refuseMalformedHost } from './host-header.js';
import type { PlainHttp } from '../tls/config.js';

export interface HttpServerOptions {
  logger: Logger;
  users: UserStore;
  version: string;
  /** Largest request body accepted by default (plugins may set their own per route). */
  bodyLimit?: number;
  /** Connection limits (the config's `http.limits` over `HTTP_LIMITS`). */
  limits?: HttpLimits;
  /** Its connections, when the caller hands it some from another listener (HTTPS); default: made from `limits`. */
  connections?: HttpConnections;
}

/** The daemon's fastify instance: JSON errors with codes, OpenAPI at /openapi.json and /docs. */
export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  // Requests reach the router a few per turn of the event loop, so that a burst of them never holds
  // the loop that carries frames (see RequestPacer).
  const pacer = new RequestPacer();
  const connections = opts.connections ?? new HttpConnections(opts.limits ?? HTTP_LIMITS, opts.logger);
  const app = Fastify({
    serverFactory: (handler) => connections.server(pacer, handler),
    // Per-request access logs would drown the daemon log (health polls, SSE): fastify's own logger
    // speaks from 'warn' up; camd's routes log what matters through the daemon logger.
    loggerInstance: opts.logger.child(
      { component: 'http' },
      { level: opts.logger.level === 'debug' || opts.logger.level === 'trace' ? opts.logger.level : 'warn' },
    ) as unknown as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: true,
    // A request must arrive whole within 30 s (its head within 10 s, below): a slow client cannot
    // hold a connection open by trickling bytes.
    requestTimeout: 30_000,
    // What Node's HTTP parser refuses (a head over its limit, bytes that are no request) answers in
    // camd's JSON too, then the connection closes.
    clientErrorHandler: (err, socket) => answerClientError(err, socket),
  });
  app.server.headersTimeout = 10_000;
  // A Host that is no host name never reaches a route (plugins build ONVIF XAddrs and URLs from it).
  app.addHook('onRequest', refuseMalformedHost);
  // A request that authenticated makes its connection a client's: no deadline to authenticate, and it
  // no longer counts against the unauthenticated limits (camd's auth runs before this, see onRoute).
  app.addHook('preHandler', (request, _reply, done) => {
    if (callerOf(request)) connections.authenticated(request.raw.socket);
    done();
  });
  // Authentication before the body: whatever a route attaches camd's auth to (`preHandler`, as
  // plugins do), it runs on the request's head, so an anonymous caller gets 401 without the body
  // being read or parsed (no 400/413/415 that tells it about a route it may not use).
  app.addHook('onRoute', (route) => {
    const pre = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    const auth = pre.filter((h) => (h as unknown as Record<symbol, unknown>)[AUTH_HANDLER]);
    if (auth.length === 0) return;
    const onRequest = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...onRequest, ...(auth as unknown as typeof onRequest)];
    route.preHandler = pre.filter((h) => !auth.includes(h));
  });
  // Every error a route throws (core's or a plugin's coded errors, see createError) answers
  // `{ error, code, message }` with its status. Only a 500 is a fault worth the stack in the log; a
  // declared status (404, 429, a 503 while something is off) is an answer.
  // A limit's refusal (429) is logged a line a minute per address and code: a flood is one line.
  const throttle = new LogThrottle();
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = httpError(err);
    if (status === 500) opts.logger.error({ err, url: request.url }, 'request failed');
    else if (status === 429)
      throttle.log(opts.logger, 'info', `${request.ip} ${body.code}`, { url: request.url, status, code: body.code, client: request.ip }, body.message);
    else opts.logger.info({ url: request.url, status, code: body.code }, body.message);
    void reply.code(status).send(body);
  });
  // Answered here, not thrown: an unknown URL (a scanner's probe) is not worth a log line.
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = httpError(new CoreErrors.NOT_FOUND(request.method, request.url.split('?')[0]));
    void reply.code(status).send(body);
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'camd HTTP API', version: opts.version, description: 'Settings, statistics, health and media endpoints of the camd camera daemon.' },
      components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
      security: [{ basic: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** A plugin's encapsulated slice of the server. */
export class PluginHttpScope implements HttpScope {
  readonly routes: RouteInfo[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly users: UserStore,
    private readonly pluginName: string,
    private readonly tls: { port: () => number; plain: PlainHttp } = { port: () => 0, plain: 'on' },
  ) {}

  register(fn: FastifyPluginAsync, opts: { prefix?: string } = {}): void {
    const routes = this.routes;
    const name = this.pluginName;
    void this.app.register(
      async (scope) => {
        scope.addHook('onRoute', (r) => {
          const methods = Array.isArray(r.method) ? r.method : [r.method];
          for (const m of methods) if (m !== 'HEAD') routes.push({ method: m, url: r.url });
        });
        try {
          await fn(scope, {});
        } catch (err) {
          throw new Error(`plugin ${name}: registering its HTTP routes failed: ${(err as Error).message}`, { cause: err });
        }
      },
      { prefix: opts.prefix },
    );
  }

  requirePermission(required: readonly Permission[]) {
    return requirePermission(this.users, required);
  }

  caller(request: Parameters<typeof callerOf>[0]) {
    return callerOf(request);
  }

  get port(): number {
    const addr = this.app.server.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  get tlsPort(): number {
    return this.tls.port();
  }

  get plain(): PlainHttp {
    return this.tls.plain;
  }
}

/** Node's HTTP parser refused the bytes: answer in camd's JSON with a code, then close. */
function answerClientError(err: Error & { code?: string }, socket: import('node:stream').Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'CAMD_ERR_HEADERS_TOO_LARGE', 'the request line and headers are larger than this server accepts']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'CAMD_ERR_REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'CAMD_ERR_BAD_REQUEST', 'the bytes received are not an HTTP request'];
  const body = JSON.stringify({ error: statusText(status), code, message });
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
