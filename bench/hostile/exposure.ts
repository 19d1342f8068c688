/**
 * Attack 5 of `pnpm bench hostile-network`: what an anonymous caller reads about a publish target.
 * The target points at a loopback address where nothing listens (the publisher fails to connect and
 * retries: no traffic leaves the machine). Each anonymous answer (status line, headers, body) is
 * searched for the target's host, user, password, path and query.
 */
import type { Camd } from '../camd.js';
import { http, SOAP_HEADERS, soapEnvelope, sleep } from './common.js';

export const PUBLISH_TARGET = 'rtsp://pub:pw@127.0.0.9:9/live/SECRETKEY?auth=abc';

/** What names each part of the target (the user as it appears in a URL: `pub:` or `pub@`, not the word "publish"). */
const PARTS: Record<string, RegExp> = {
  host: /127\.0\.0\.9/,
  user: /\bpub(?=[:@])/,
  password: /:pw@/,
  path: /SECRETKEY|\/live\//,
  query: /auth=abc/,
};

const ANONYMOUS: Array<[string, (base: string) => Promise<{ status: number; text: string }>]> = [
  ['GET /api/health', (b) => get(b, '/api/health')],
  ['GET /metrics', (b) => get(b, '/metrics')],
  ['GET /api/state', (b) => get(b, '/api/state')],
  ['GET /openapi.json', (b) => get(b, '/openapi.json')],
  ['GET /view (WebRTC viewer page)', (b) => get(b, '/view')],
  ['ONVIF GetCapabilities', (b) => soap(b, '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>')],
  ['ONVIF GetServices', (b) => soap(b, '<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>')],
  ['ONVIF GetDeviceInformation', (b) => soap(b, '<tds:GetDeviceInformation/>')],
];

async function get(base: string, path: string) {
  const a = await http(base + path, { timeoutMs: 10_000 });
  return { status: a.status, text: `${JSON.stringify(a.headers)}\n${a.body}` };
}

async function soap(base: string, body: string) {
  const a = await http(`${base}/onvif/device_service`, { method: 'POST', headers: SOAP_HEADERS, body: soapEnvelope(body), timeoutMs: 10_000 });
  return { status: a.status, text: `${JSON.stringify(a.headers)}\n${a.body}` };
}

export type ExposureRow = Record<string, string | number>;

function named(text: string): Record<string, string> {
  return Object.fromEntries(Object.entries(PARTS).map(([k, re]) => [k, re.test(text) ? 'NAMED' : '-']));
}

/** Each anonymous answer and the parts of the target it names; last, the daemon's own log for reference (not anonymous). */
export async function anonymousExposure(camd: Camd): Promise<ExposureRow[]> {
  // Let the publisher try and fail once, so that whatever reports a failure has one to report.
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && !/publish/i.test(camd.output())) await sleep(250);
  await sleep(1500);
  const rows: ExposureRow[] = [];
  for (const [what, fetchIt] of ANONYMOUS) {
    try {
      const r = await fetchIt(camd.baseUrl);
      rows.push({ 'anonymous request': what, status: r.status, bytes: r.text.length, ...named(r.text) });
    } catch (err) {
      rows.push({ 'anonymous request': what, status: (err as Error).message, bytes: 0 });
    }
  }
  rows.push({ 'anonymous request': "(the daemon's log, for reference)", status: '', bytes: camd.output().length, ...named(camd.output()) });
  return rows;
}
