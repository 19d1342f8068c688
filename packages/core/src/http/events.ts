import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { CoreErrors } from '../errors.js';
import type { ClientSlots } from '../net/client-slots.js';
import type { StateStore } from '../state/store.js';
import { callerOf } from './auth.js';

/**
 * Unsent bytes of a feed above which changes wait for the client to read: meanwhile each key keeps
 * its newest change only, so a reader that does not keep up costs at most one event per key, and
 * one that does not read at all is closed by the connection guard (`http.limits.drainTimeoutMs`).
 */
export const EVENT_FEED_BOUND = 64 * 1024;

/**
 * `GET /api/events`: Server-Sent Events of state changes. The first event (`snapshot`) carries every
 * readable value; then one `state` event per change, only for keys the caller may read. Each user
 * may hold `slots`' share of feeds (429 beyond).
 */
export function registerEventFeed(app: FastifyInstance, state: StateStore, auth: preHandlerAsyncHookHandler, slots: ClientSlots): void {
  app.get('/api/events', { preHandler: auth, schema: { summary: 'Live change feed (text/event-stream)' } }, (req, reply) => {
    const caller = callerOf(req)!;
    const slot = slots.acquire(caller.username);
    if (!slot.ok) throw new CoreErrors.CLIENT_LIMIT(slot.message);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const feed = new EventFeedWriter(res);
    const send = (key: string, event: string, data: unknown) => feed.send(key, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('', 'snapshot', Object.fromEntries(state.list(caller).map((e) => [e.key, e.value])));
    const off = state.subscribe((change) => {
      if (state.canRead(change.key, caller))
        send(change.key, 'state', { key: change.key, value: state.present(change.key, change.value, caller), by: change.by });
    });
    const heartbeat = setInterval(() => feed.blocked || res.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    const close = () => {
      off();
      clearInterval(heartbeat);
      feed.clear();
      slot.release();
    };
    res.once('close', close);
  });
}

/** What EventFeedWriter needs of a response. */
export interface FeedSink {
  write(text: string): unknown;
  readonly writableLength: number;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes one client's events. While more than `bound` bytes of them are unsent, changes wait, and a
 * key keeps only its newest: a slow reader gets current values, never a growing backlog.
 */
export class EventFeedWriter {
  private readonly waiting = new Map<string, string>();
  private held = false;

  constructor(
    private readonly sink: FeedSink,
    private readonly bound = EVENT_FEED_BOUND,
  ) {}

  get blocked(): boolean {
    return this.held;
  }

  /** Events that wait for the client to read (one per key at most). */
  get queued(): number {
    return this.waiting.size;
  }

  send(key: string, text: string): void {
    if (!this.held) return this.write(text);
    this.waiting.delete(key);
    this.waiting.set(key, text);
  }

  clear(): void {
    this.waiting.clear();
  }

  private write(text: string): void {
    this.sink.write(text);
    if (this.sink.writableLength <= this.bound) return;
    this.held = true;
    this.sink.once('drain', () => this.flush());
  }

  private flush(): void {
    this.held = false;
    for (const [key, text] of this.waiting) {
      this.waiting.delete(key);
      this.write(text);
      if (this.held) return;
    }
  }
}
