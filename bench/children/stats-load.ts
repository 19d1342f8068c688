/**
 * Child process of bench/api-load.ts: waves of N concurrent `GET /api/stats` (a wave starts when the
 * previous one has been answered) for S seconds. In its own process so that the bench's RTSP reader,
 * which measures latency, does not share an event loop with a thousand requests. Prints one JSON line:
 * request count, statuses, response times (ms) p50/p99/max, waves.
 * Usage: tsx bench/children/stats-load.ts <baseUrl> <user:password> <concurrency> <seconds>
 */
import { Agent, get } from 'node:http';

const [baseUrl, credentials, concurrencyArg, secondsArg] = process.argv.slice(2) as [string, string, string, string];
const concurrency = Number(concurrencyArg);
const auth = `Basic ${Buffer.from(credentials).toString('base64')}`;
// One connection per concurrent request, as a room of separate dashboards would open (kept alive between waves).
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const url = new URL('/api/stats', baseUrl);

/** One GET; resolves with the status, or the error code when the request failed. */
function stats(): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { agent, headers: { authorization: auth } }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', () => resolve('reset'));
    });
    req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? 'error'));
  });
}

const times: number[] = [];
const statuses: Record<string, number> = {};
let waves = 0;
const end = Date.now() + Number(secondsArg) * 1000;
while (Date.now() < end) {
  waves++;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const t0 = performance.now();
      const status = await stats();
      statuses[status] = (statuses[status] ?? 0) + 1;
      times.push(performance.now() - t0);
    }),
  );
}
times.sort((a, b) => a - b);
const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(times.length * p))] ?? 0);
console.log(JSON.stringify({ requests: times.length, waves, statuses, p50: at(0.5), p99: at(0.99), max: Math.round(times.at(-1) ?? 0) }));
process.exit(0);
