import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { ClientSlots } from './client-slots.js';
import { addressKey, ConnectionGuard, type ConnectionLimits } from './connection-guard.js';
import { LogThrottle } from './log-throttle.js';

/** What the guard reads of a socket: its address, unsent bytes, 'drain' and 'close'. */
class FakeSocket extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

const limits: ConnectionLimits = {
  maxConnectionsPerAddress: 3,
  maxUnauthenticated: 4,
  maxUnauthenticatedPerAddress: 2,
  unauthenticatedTimeoutMs: 10_000,
  drainTimeoutMs: 5_000,
};

function guard(now = { t: 0 }) {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
  const g = new ConnectionGuard({ protocol: 'rtsp', optionPrefix: 'option ', log, limits, timers: false, now: () => now.t });
  const admit = (address: string, onExpired?: () => void) => {
    const s = new FakeSocket(address);
    return { s, a: g.admit(s as unknown as Socket, onExpired) };
  };
  /** An admitted connection that then authenticated. */
  const client = (address: string) => {
    const r = admit(address);
    if (!r.a.ok) throw new Error(`refused: ${r.a.message}`);
    r.a.conn.authenticate();
    return r;
  };
  return { g, admit, client, lines, now };
}

describe('ConnectionGuard', () => {
  it('refuses past the per-address limit, names it, and admits another address', () => {
    const { admit, client } = guard();
    const open = [1, 2, 3].map(() => client('10.0.0.1'));
    const fourth = admit('10.0.0.1').a;
    expect(fourth).toMatchObject({ ok: false, status: 429, code: 'CAMD_ERR_TOO_MANY_CONNECTIONS', answer: true });
    expect(!fourth.ok && fourth.message).toMatch(/3 connections from this address are open, the limit is 3 \(option maxConnectionsPerAddress\)/);
    expect(admit('10.0.0.2').a.ok).toBe(true);
    // One closes: room again.
    open[0]!.s.destroy();
    expect(admit('10.0.0.1').a.ok).toBe(true);
  });

  it('keeps unauthenticated connections few per address and overall; authenticating frees the slot', () => {
    const { admit } = guard();
    const [x, y] = [admit('10.0.0.1'), admit('10.0.0.1')];
    expect(admit('10.0.0.1').a).toMatchObject({ ok: false, status: 429, message: expect.stringMatching(/maxUnauthenticatedPerAddress/) });
    if (x.a.ok) x.a.conn.authenticate();
    expect(admit('10.0.0.1').a.ok).toBe(true);
    // 10.0.0.1 holds 2 unauthenticated (y and the last), 10.0.0.2 two more: the total of 4 is reached.
    expect(admit('10.0.0.2').a.ok).toBe(true);
    expect(admit('10.0.0.2').a.ok).toBe(true);
    expect(admit('10.0.0.3').a).toMatchObject({ ok: false, status: 503, message: expect.stringMatching(/maxUnauthenticated\)/) });
    y.s.destroy();
    expect(admit('10.0.0.3').a.ok).toBe(true);
  });

  it('answers a few refusals per address; past them it closes at once', () => {
    const { admit, client } = guard();
    for (let i = 0; i < 3; i++) client('10.0.0.1');
    const refused = Array.from({ length: 6 }, () => admit('10.0.0.1'));
    expect(refused.map((r) => !r.a.ok && r.a.answer)).toEqual([true, true, true, true, false, false]);
    expect(refused.map((r) => r.s.destroyed)).toEqual([false, false, false, false, true, true]);
  });

  it('closes a connection that does not authenticate in time, and one whose output does not empty', () => {
    const { g, admit, lines, now } = guard();
    let expired = 0;
    const anon = admit('10.0.0.1', () => expired++);
    const client = admit('10.0.0.2');
    if (client.a.ok) client.a.conn.authenticate();
    now.t = 9_999;
    g.sweep();
    expect(expired).toBe(0);
    now.t = 10_000;
    g.sweep();
    g.sweep();
    expect(expired).toBe(1);
    // The client stops reading: its unsent output stays; a 'drain' restarts the clock.
    client.s.writableLength = 100_000;
    now.t = 14_000;
    g.sweep();
    client.s.emit('drain');
    now.t = 18_000;
    g.sweep();
    expect(client.s.destroyed).toBe(false);
    now.t = 19_000;
    g.sweep();
    expect(client.s.destroyed).toBe(true);
    expect(anon.s.destroyed).toBe(false);
    expect(g.counts).toMatchObject({ expired: 1, stuck: 1 });
    expect(lines.map((l) => l.msg)).toEqual([
      'rtsp: closing a connection that did not authenticate within 10 s',
      'rtsp: closing a connection whose peer has not read its answers for 5 s',
    ]);
  });

  it('a connection carried onto a TLS socket: counted until the raw one closes, its stall seen and its deadline run on the TLS socket', () => {
    const now = { t: 0 };
    const { g, admit } = guard(now);
    const raw = admit('10.0.0.1');
    if (!raw.a.ok) throw new Error('refused');
    const tls = new FakeSocket('10.0.0.1');
    let expired = 0;
    raw.a.conn.carry(tls as unknown as Socket, () => expired++);
    expect(admit('10.0.0.1').a.ok).toBe(true);
    expect(admit('10.0.0.1').a).toMatchObject({ ok: false, status: 429 });
    // Its output waits on the TLS socket (the raw one under TLS holds none): closed after drainTimeoutMs.
    tls.writableLength = 1 << 20;
    now.t = 6_000;
    g.sweep();
    expect(tls.destroyed).toBe(true);
    // The deadline to authenticate is the one the TLS side gave.
    now.t = 11_000;
    g.sweep();
    expect(expired).toBe(1);
    expect(raw.s.destroyed).toBe(false);
    // Released when the raw connection closes.
    raw.s.destroy();
    expect(admit('10.0.0.1').a.ok).toBe(true);
  });

  it('logs refusals once a minute per address, with how many were held back', () => {
    const { admit, client, lines, now } = guard();
    for (let i = 0; i < 3; i++) client('10.0.0.1');
    for (let i = 0; i < 50; i++) admit('10.0.0.1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ client: '10.0.0.1', msg: expect.stringMatching(/^rtsp: connection refused: 3 connections from this address/) });
    now.t = 60_000;
    admit('10.0.0.1');
    expect(lines[1]).toMatchObject({ suppressed: 49 });
  });
});

describe('addressKey', () => {
  it('counts IPv4 (also mapped) by address and IPv6 by /64', () => {
    expect(addressKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::bbbb')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

describe('ClientSlots', () => {
  it('caps per user and in total; release is idempotent', () => {
    const slots = new ClientSlots('MJPEG clients', { perUser: 2, total: 3, perUserOption: 'x.perUser', totalOption: 'x.total' });
    const a1 = slots.acquire('alice');
    const a2 = slots.acquire('alice');
    expect(slots.acquire('alice')).toEqual({ ok: false, message: 'alice has 2 MJPEG clients open, the limit per user is 2 (x.perUser)' });
    expect(slots.acquire('bob').ok).toBe(true);
    expect(slots.acquire('carol')).toEqual({ ok: false, message: '3 MJPEG clients are open, the limit is 3 (x.total)' });
    if (a1.ok) {
      a1.release();
      a1.release();
    }
    expect(slots.count()).toBe(2);
    expect(slots.count('alice')).toBe(1);
    expect(slots.acquire('carol').ok).toBe(true);
    expect(a2.ok).toBe(true);
  });
});

describe('LogThrottle', () => {
  it('lets one line per key and interval through, and bounds the keys it remembers', () => {
    let t = 0;
    const th = new LogThrottle(1000, () => t);
    expect(th.due('a')).toBe(0);
    expect(th.due('a')).toBeUndefined();
    expect(th.due('b')).toBe(0);
    t = 1000;
    expect(th.due('a')).toBe(1);
    // Thousands of keys (an attack from many addresses) share one line past the bound.
    let due = 0;
    for (let i = 0; i < 5000; i++) if (th.due(`k${i}`) !== undefined) due++;
    expect(due).toBeLessThan(1030);
  });
});
