/**
 * Attack 3 of `pnpm bench hostile-network`: a password flood from one address (many parallel
 * connections, each guessing in turn, a new wrong password every time) while the owner logs in
 * correctly from another address once a second.
 *
 * From the outside, a guess "reached a password check" when its answer is the ordinary refusal of
 * wrong credentials (401); an answer of another kind (429, 503, 403, a closed connection) is a
 * lockout or a limit. A daemon that refuses a locked-out address with a plain 401 cannot be told
 * apart from the outside: its own figure (`authFigures`, printed before and after) says more.
 */
import { Agent } from 'node:http';
import { BENCH_USER, type Camd } from '../camd.js';
import { RtspClient, RtspCredentials, type Credentials } from '../rtsp-client.js';
import { apiJson, ATTACKER, basic, http, LEGIT, sleep, SOAP_HEADERS, soapEnvelope, VIEWER } from './common.js';

export type Protocol = 'HTTP Basic' | 'RTSP Digest' | 'RTSP Basic' | 'ONVIF PasswordText';

export interface GuessTarget {
  protocol: Protocol;
  /** HTTP base URL (camd), for HTTP and ONVIF. */
  baseUrl?: string;
  /** RTSP port and the stream URL, for RTSP. */
  rtspPort?: number;
  rtspUrl?: string;
}

export interface GuessResult {
  seconds: number;
  /** Answers by kind: '401' (a password was checked and refused), other statuses, 'no answer'. */
  answers: Map<string, number>;
  /** Times (s since the start) of the 401 answers. */
  checkedAt: number[];
  /** Correct logins from the legitimate address: latency in ms, or what went wrong. */
  legit: Array<number | string>;
}

const DEVICE_INFO = '<tds:GetDeviceInformation/>';

/** One attempt with `creds`: the answer's status (0 when the connection closed or nothing came). */
type Attempt = (creds: Credentials) => Promise<number>;

/** How one connection (one worker) or one fresh connection (the owner) tries a password. */
function attempter(t: GuessTarget, localAddress: string, keepAlive: boolean): { attempt: Attempt; close(): void } {
  if (t.protocol === 'HTTP Basic' || t.protocol === 'ONVIF PasswordText') {
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1, localAddress }) : false;
    const onvif = t.protocol === 'ONVIF PasswordText';
    return {
      attempt: async (creds) => {
        const a = onvif
          ? await http(`${t.baseUrl}/onvif/device_service`, {
              method: 'POST',
              headers: SOAP_HEADERS,
              body: soapEnvelope(DEVICE_INFO, creds),
              agent,
              localAddress,
              timeoutMs: 15_000,
            })
          : await http(`${t.baseUrl}/api/streams`, { headers: { authorization: basic(creds) }, agent, localAddress, timeoutMs: 15_000 });
        return a.status;
      },
      close: () => {
        if (agent) agent.destroy();
      },
    };
  }
  // RTSP: DESCRIBE on a kept connection; a Digest client answers the challenge of its first 401.
  let client: RtspClient | undefined;
  const scheme = t.protocol === 'RTSP Digest' ? 'digest' : 'basic';
  const guess: Credentials = { username: '', password: '' };
  const auth = new RtspCredentials(guess, scheme);
  return {
    attempt: async (creds) => {
      Object.assign(guess, creds);
      if (!client || client.closed) client = await RtspClient.connect(t.rtspPort!, { localAddress, timeoutMs: 5000 });
      const a = await client.authedRequest(auth, 'DESCRIBE', t.rtspUrl!, { Accept: 'application/sdp' }, 15_000);
      if (!keepAlive) client.close();
      return a.status;
    },
    close: () => client?.close(),
  };
}

/** `parallel` connections from the attacker's address guess `VIEWER`'s password for `seconds`; the owner logs in from `LEGIT` every second. */
export async function passwordFlood(t: GuessTarget, seconds: number, parallel: number): Promise<GuessResult> {
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  const answers = new Map<string, number>();
  const checkedAt: number[] = [];
  const count = (k: string) => answers.set(k, (answers.get(k) ?? 0) + 1);
  const workers = Array.from({ length: parallel }, async (_, w) => {
    const a = attempter(t, ATTACKER, true);
    try {
      for (let n = 0; performance.now() < until; n++) {
        try {
          const status = await a.attempt({ username: VIEWER.username, password: `wrong-${w}-${n}` });
          count(String(status));
          if (status === 401) checkedAt.push((performance.now() - t0) / 1000);
        } catch {
          count('no answer');
          await sleep(100);
        }
      }
    } finally {
      a.close();
    }
  });
  const legit: Array<number | string> = [];
  const owner = (async () => {
    while (performance.now() < until) {
      const start = performance.now();
      const a = attempter(t, LEGIT, false);
      try {
        const status = await a.attempt(VIEWER);
        legit.push(status === 200 ? performance.now() - start : `answered ${status}`);
      } catch (err) {
        legit.push((err as Error).message);
      } finally {
        a.close();
      }
      await sleep(Math.max(0, 1000 - (performance.now() - start)));
    }
  })();
  await Promise.all([...workers, owner]);
  return { seconds: (performance.now() - t0) / 1000, answers, checkedAt: checkedAt.sort((x, y) => x - y), legit };
}

/**
 * What the daemon itself says about failed logins and lockouts, if it says anything: entries of
 * `/api/stats` that are not streams and whose name speaks of authentication, and `/metrics` lines
 * of that kind. Read as the bench's operator from the legitimate address.
 */
export async function authFigures(camd: Camd): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const telling = /auth|lock|login|guess|brute|password|credential/i;
  try {
    const stats = await apiJson(camd, '/api/stats', BENCH_USER);
    for (const [k, v] of Object.entries(stats)) {
      const isStream = v !== null && typeof v === 'object' && 'fps' in v;
      if (!isStream && telling.test(k)) out[`stats.${k}`] = v;
    }
  } catch (err) {
    out.stats = `unavailable: ${(err as Error).message}`;
  }
  try {
    const m = await http(`${camd.baseUrl}/metrics`, { headers: { authorization: basic(BENCH_USER) }, localAddress: LEGIT, timeoutMs: 5000 });
    for (const line of m.body.split('\n')) {
      const [name, value] = line.split(/\s+(?=\S+$)/);
      if (name && !name.startsWith('#') && telling.test(name.split('{')[0]!)) out[name] = Number(value);
    }
  } catch {
    /* metrics unavailable: nothing to add */
  }
  return out;
}
