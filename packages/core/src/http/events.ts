import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { StateStore } from '../state/store.js';
import { callerOf } from './auth.js';

/**
 * `GET /api/events`: Server-Sent Events of state changes. The first event (`snapshot`) carries every
 * readable value; then one `state` event per change, only for keys the caller may read.
 */
export function registerEventFeed(app: FastifyInstance, state: StateStore, auth: preHandlerAsyncHookHandler): void {
  app.get('/api/events', { preHandler: auth, schema: { summary: 'Live change feed (text/event-stream)' } }, (req, reply) => {
    const caller = callerOf(req)!;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const send = (event: string, data: unknown) => {
      // A reader that does not drain its socket loses events rather than growing our memory.
      if (res.writableLength > 1024 * 1024) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('snapshot', Object.fromEntries(state.list(caller).map((e) => [e.key, e.value])));
    const off = state.subscribe((change) => {
      if (state.canRead(change.key, caller)) send('state', { key: change.key, value: state.present(change.key, change.value, caller), by: change.by });
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    const close = () => {
      off();
      clearInterval(heartbeat);
    };
    req.raw.on('close', close);
    res.on('error', close);
  });
}
