/**
 * What the sections of `pnpm bench hostile-network` share: HTTP requests from a chosen loopback
 * address, the daemon's and media process's RSS, gst-rtsp-server as the reference peer, figures.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { freePort, type Camd } from '../camd.js';
import { MiB, rssKiB, spawnTracked, stopTree, treePids } from '../proc.js';

export const ATTACKER = '127.0.0.1';
export const LEGIT = '127.0.0.2';
/** The camera's users besides the bench's operator (`BENCH_USER`, Media_rw): a viewer whose password is guessed, an admin. */
export const VIEWER = { username: 'viewer', password: 'viewer-pass-1', permissions: ['Media_r'] };
export const ADMIN = { username: 'admin', password: 'admin-pass-1', permissions: ['Admin', 'Media_rw'] };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const basic = (u: { username: string; password: string }) => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request with node:http, from `localAddress` (fetch cannot choose it). Rejects on a
 * connection error or after `timeoutMs`; the body is read up to `maxBody` bytes.
 */
export function http(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
    timeoutMs?: number;
    agent?: Agent | false;
    maxBody?: number;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < (opts.maxBody ?? 4 << 20)) chunks.push(d);
        size += d.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => (clearTimeout(timer), reject(e)));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    req.on('error', (e) => (clearTimeout(timer), reject(e)));
    req.end(opts.body);
  });
}

/** GET of the daemon's API as `user` from the legitimate address (an attacker's address may be locked out). */
export async function apiJson<T = Record<string, unknown>>(
  camd: Camd,
  path: string,
  user: { username: string; password: string },
  timeoutMs = 5000,
): Promise<T> {
  const a = await http(camd.baseUrl + path, { headers: { authorization: basic(user) }, localAddress: LEGIT, timeoutMs });
  if (a.status !== 200) throw new Error(`GET ${path} answered ${a.status}: ${a.body.slice(0, 200)}`);
  return JSON.parse(a.body) as T;
}

/** RSS in MiB of a process, and of its descendants (camd's media process), or NaN once gone. */
export function rssOf(pid: number): { own: number; children: number } {
  const safe = (p: number) => {
    try {
      return MiB(rssKiB(p));
    } catch {
      return NaN;
    }
  };
  const kids = treePids(pid).filter((p) => p !== pid);
  return { own: safe(pid), children: kids.reduce((a, p) => a + (safe(p) || 0), 0) };
}

/** Samples RSS every `everyMs` until stopped; `stop()` gives the peak seen. */
export function rssSampler(pid: number, everyMs = 200): { stop(): { own: number; children: number } } {
  const peak = { own: 0, children: 0 };
  const sample = () => {
    const r = rssOf(pid);
    if (r.own > peak.own) peak.own = r.own;
    if (r.children > peak.children) peak.children = r.children;
    return r;
  };
  sample();
  const t = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      sample();
      return { ...peak };
    },
  };
}

/** The daemon's limit on open files (`Max open files` of /proc/PID/limits, soft). */
export function openFileLimit(pid: number): string {
  try {
    return /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

export const openFds = (pid: number): number => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
};

export interface Gst {
  child: ChildProcess;
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** gst-rtsp-server (bench/gst_rtsp_server.py) with the same stream as camd's, a backlog of 1024 and Digest for `user`. */
export async function startGst(
  stream: { width: number; height: number; fps: number; kbps: number },
  user: { username: string; password: string },
): Promise<Gst> {
  const port = await freePort();
  const script = new URL('../gst_rtsp_server.py', import.meta.url).pathname;
  const args = [script, String(port), String(stream.width), String(stream.height), String(stream.fps), String(stream.kbps)];
  args.push('--pattern', 'snow', '--backlog', '1024', '--digest', `${user.username}:${user.password}`);
  const child = spawnTracked('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => createInterface({ input: child.stdout! }).once('line', () => resolve(true))),
    new Promise<boolean>((resolve) => child.once('exit', () => resolve(false))),
    sleep(15_000).then(() => false),
  ]);
  const stop = () => stopTree(child, 'SIGTERM', 3000);
  if (!ready) {
    await stop();
    throw new Error('gst-rtsp-server did not start');
  }
  return { child, pid: child.pid!, port, stop };
}

export const mib = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
export const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)} %` : '-');

/** Runs a section, prints its duration, and never lets its failure stop the other sections. */
export async function section(title: string, run: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  console.log(`\n--- ${title} ---`);
  try {
    await run();
  } catch (err) {
    console.log(`  section failed: ${(err as Error).stack ?? err}`);
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

/**
 * A SOAP 1.2 request to an ONVIF service; with `user`, a WS-UsernameToken with the password as
 * PasswordText (what a guesser sends: each guess costs the camera a password hash), a fresh Nonce and Created.
 */
export function soapEnvelope(body: string, user?: { username: string; password: string }): string {
  const header = user
    ? '<s:Header><Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>' +
      `<Username>${user.username}</Username><Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">${user.password}</Password>` +
      `<Nonce>${randomBytes(16).toString('base64')}</Nonce><Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">${new Date().toISOString()}</Created>` +
      '</UsernameToken></Security></s:Header>'
    : '';
  return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">${header}<s:Body>${body}</s:Body></s:Envelope>`;
}

export const SOAP_HEADERS = { 'content-type': 'application/soap+xml; charset=utf-8' };
