import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { CODEC_LABEL } from '../media/codec.js';
import type { StreamHub } from '../media/hub.js';
import type { EncodedFrame } from '../media/types.js';
import type { StreamCatalog } from '../plugins/contract.js';
import { CamdError, CoreErrors, ErrorCodes } from '../errors.js';
import type { ClientSlots } from '../net/client-slots.js';
import { callerOf } from './auth.js';

const BOUNDARY = 'camdframe';
/**
 * Frames a client may be behind before it skips to the newest: two is enough to ride out a short
 * hiccup, and a slow network then shows fewer, current pictures instead of ever older ones.
 */
export const MJPEG_MAX_QUEUE = 2;
/** A client whose socket takes no data for this long is disconnected (its queue holds nothing older). */
export const MJPEG_STALL_MS = 10_000;

export interface MjpegDeps {
  hub: StreamHub;
  streams: StreamCatalog;
  logger: Logger;
  preHandler: preHandlerHookHandler;
  /** MJPEG clients per user and in total (`http.limits.maxMjpegClients…`). */
  slots: ClientSlots;
}

/**
 * `GET /api/streams/:name/mjpeg`: a stream whose `videoEncoder` is mjpeg, as `multipart/x-mixed-replace`
 * (what an `<img>` tag shows). Each frame is the encoder's JPEG as it is, at the stream's frame rate;
 * every client is a hub consumer with a bounded queue, so a slow one skips frames and no one waits for
 * it. A codec change away from MJPEG ends the response.
 */
export function registerMjpegRoute(app: FastifyInstance, deps: MjpegDeps): void {
  app.get<{ Params: { name: string } }>(
    '/api/streams/:name/mjpeg',
    { preHandler: deps.preHandler, schema: { summary: 'The MJPEG stream as multipart/x-mixed-replace (an <img> shows it); the stream must be mjpeg' } },
    async (req, reply) => serve(req, reply, deps),
  );
}

async function serve(req: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply, deps: MjpegDeps): Promise<void> {
  const name = req.params.name;
  const settings = deps.streams.get(name);
  if (!settings) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${name}"`);
  const codec = deps.hub.parameters(name)?.codec ?? settings.codec;
  if (codec !== 'mjpeg') {
    throw new CoreErrors.STREAM_CODEC(
      `stream "${name}" is ${CODEC_LABEL[codec]}: MJPEG over HTTP serves a stream whose videoEncoder is mjpeg (or take snapshot.jpg)`,
    );
  }
  const caller = callerOf(req);
  const slot = deps.slots.acquire(caller?.username ?? '');
  if (!slot.ok) throw new CoreErrors.CLIENT_LIMIT(slot.message);
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  // The head goes out now: the client knows it was admitted before the first frame comes.
  res.flushHeaders();
  let stallTimer: NodeJS.Timeout | undefined;
  const end = (reason?: string) => {
    clearTimeout(stallTimer);
    consumer.close();
    if (reason) deps.logger.info({ stream: name, client: req.ip, reason }, 'mjpeg: client ended');
    if (!res.writableEnded) res.end(`--${BOUNDARY}--\r\n`);
  };
  const write = (f: EncodedFrame): void | Promise<void> => {
    if (res.destroyed) return;
    res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.data.length}\r\n\r\n`);
    res.write(f.data);
    if (res.write('\r\n')) return;
    // Busy until the socket drains: meanwhile the hub queues up to MJPEG_MAX_QUEUE frames, then skips.
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(stallTimer);
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.once('drain', done);
      res.once('close', done);
      stallTimer = setTimeout(() => {
        done();
        res.destroy();
      }, MJPEG_STALL_MS);
    });
  };
  const consumer = deps.hub.subscribe(name, {
    name: `mjpeg ${req.ip} ${caller?.username ?? ''}`.trim(),
    maxQueue: MJPEG_MAX_QUEUE,
    accept: (p) => (p.codec === 'mjpeg' ? undefined : `stream ${name} changed to ${CODEC_LABEL[p.codec]}`),
    onRejected: (reason) => end(reason),
    onFrame: (f) => write(f),
  });
  res.on('close', () => {
    clearTimeout(stallTimer);
    consumer.close();
    slot.release();
  });
}
