/**
 * Long-lived HTTP streams opened by one user: `n` SSE feeds (`/api/events`) or MJPEG streams, all
 * with one Media_r login from the attacker's address. How many are admitted (200 and a first event
 * or picture), what the others were answered, and the daemon's RSS meanwhile.
 */
import { request, type ClientRequest } from 'node:http';
import type { Camd } from '../camd.js';
import { ATTACKER, basic, rssOf, rssSampler, sleep, VIEWER } from './common.js';

export interface StreamsResult {
  admitted: number;
  /** Answers other than an admitted stream: by status or error. */
  others: Map<string, number>;
  rssIdle: number;
  rssPeak: number;
}

export async function manyStreams(camd: Camd, path: string, first: RegExp, n: number, holdS: number): Promise<StreamsResult> {
  const rssIdle = rssOf(camd.pid).own;
  const sampler = rssSampler(camd.pid);
  const others = new Map<string, number>();
  let finished = false;
  // What happens after the hold (our own close) is not the server's answer.
  const other = (k: string) => void (finished || others.set(k, (others.get(k) ?? 0) + 1));
  const requests: ClientRequest[] = [];
  let admitted = 0;
  const settled = Array.from(
    { length: n },
    () =>
      new Promise<void>((resolve) => {
        const req = request(camd.baseUrl + path, { headers: { authorization: basic(VIEWER) }, localAddress: ATTACKER, agent: false }, (res) => {
          if (res.statusCode !== 200) {
            other(String(res.statusCode));
            res.resume();
            return resolve();
          }
          let seen = '';
          let admittedHere = false;
          res.on('data', (d: Buffer) => {
            if (admittedHere) return;
            seen += d.toString('latin1').slice(0, 4096);
            if (!first.test(seen)) return;
            admittedHere = true;
            if (!finished) admitted++;
            resolve();
          });
          res.on('close', () => {
            if (!admittedHere) other('200, closed before its first message');
            resolve();
          });
        });
        req.on('error', (e) => {
          other((e as NodeJS.ErrnoException).code ?? e.message);
          resolve();
        });
        req.end();
        requests.push(req);
      }),
  );
  try {
    await Promise.race([Promise.all(settled), sleep(15_000)]);
    await sleep(holdS * 1000);
  } finally {
    finished = true;
    for (const r of requests) r.destroy();
  }
  const peak = sampler.stop();
  return { admitted, others, rssIdle, rssPeak: peak.own };
}
