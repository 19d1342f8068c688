import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RequestPacer } from './pacer.js';
import { createTestHost } from '../testing/index.js';
import { definePlugin, PLUGIN_API_VERSION } from '../index.js';

/** A pacer whose turns of the loop the test runs by hand, on a clock it moves. */
function manual(opts: { perTurn?: number; budgetMs?: number; share?: number } = {}) {
  let now = 0;
  const turns: (() => void)[] = [];
  const rests: number[] = [];
  const loop = { active: 0, idle: 0 };
  const pacer = new RequestPacer({
    ...opts,
    now: () => now,
    loopTime: () => ({ ...loop }),
    defer: (fn, ms) => {
      turns.push(fn);
      rests.push(ms);
    },
  });
  return {
    pacer,
    loop,
    rests,
    advance: (ms: number) => void (now += ms),
    turn: () => {
      const fn = turns.shift();
      if (!fn) throw new Error('no turn scheduled');
      fn();
    },
    pendingTurns: () => turns.length,
  };
}

describe('RequestPacer', () => {
  it('starts a burst a slice per turn of the loop, in order, and leaves nothing behind', () => {
    const m = manual({ perTurn: 8 });
    const started: number[] = [];
    for (let i = 0; i < 20; i++) m.pacer.run(() => started.push(i));
    expect(started).toEqual([]); // nothing runs inside the turn that received the requests
    expect(m.pendingTurns()).toBe(1);
    m.turn();
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    m.turn();
    m.turn();
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(m.pendingTurns()).toBe(0);
    expect(m.pacer.waiting).toBe(0);
  });

  it('ends a slice early when its work takes longer than the budget', () => {
    const m = manual({ perTurn: 8, budgetMs: 2 });
    const started: number[] = [];
    for (let i = 0; i < 5; i++)
      m.pacer.run(() => {
        started.push(i);
        m.advance(1.5); // a slow request
      });
    m.turn();
    expect(started).toEqual([0, 1]);
    m.turn();
    expect(started).toEqual([0, 1, 2, 3]);
    m.turn();
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('while a backlog lasts, rests between slices when the loop has been busy more than half the time', () => {
    const m = manual({ perTurn: 2, share: 0.5 });
    for (let i = 0; i < 8; i++) m.pacer.run(() => undefined);
    m.loop.active += 3; // a quiet loop: 3 ms busy of 10
    m.loop.idle += 7;
    m.turn();
    expect(m.rests.at(-1)).toBe(0);
    m.loop.active += 8; // a busy one: 8 ms of 10 (frames and HTTP together)
    m.loop.idle += 2;
    m.turn();
    expect(m.rests.at(-1)).toBeCloseTo(6); // 8 busy ms are half of 16: rest 6 more
    m.loop.active += 100; // never longer than maxRestMs
    m.turn();
    expect(m.rests.at(-1)).toBe(20);
    m.turn();
    expect(m.pacer.waiting).toBe(0);
  });

  it('a request that throws does not strand the ones behind it', () => {
    const m = manual();
    const started: string[] = [];
    m.pacer.run(() => {
      throw new Error('boom');
    });
    m.pacer.run(() => started.push('next'));
    m.turn();
    expect(started).toEqual(['next']);
  });
});

describe('the HTTP API under a burst of requests', () => {
  it('starts at most one slice of a burst between two turns of the event loop, and answers every request', async () => {
    let sinceTick = 0;
    const counter = definePlugin({
      name: 'burst-counter',
      apiVersion: PLUGIN_API_VERSION,
      setup(ctx) {
        ctx.http.register(async (app) => void app.get('/api/burst', async () => (sinceTick++, { ok: true })));
      },
    });
    // The burst stands for dashboards on many machines: one address may open as many connections.
    const many = { maxConnectionsPerAddress: 1000, maxUnauthenticatedPerAddress: 1000, maxUnauthenticated: 1000 };
    const h = await createTestHost({ media: false, plugins: [counter], config: { http: { limits: many } } });
    // A tick every turn of the loop (setImmediate) stands for the frame path: it counts how many
    // requests reached a route between two of its runs.
    let mostPerTick = 0;
    let running = true;
    const tick = () => {
      mostPerTick = Math.max(mostPerTick, sinceTick);
      sinceTick = 0;
      if (running) setImmediate(tick);
    };
    tick();
    try {
      // The burst comes from another process, as dashboards would: its requests arrive together.
      const script = `
        const { get, Agent } = require('node:http');
        const agent = new Agent({ keepAlive: true, maxSockets: 400 });
        let ok = 0;
        const one = () => new Promise((r) => get(process.argv[1], { agent }, (res) => { res.resume(); res.on('end', () => r(res.statusCode)); }).on('error', () => r(0)));
        Promise.all(Array.from({ length: 400 }, one)).then((s) => { console.log(s.filter((x) => x === 200).length); process.exit(0); });`;
      const child = spawn(process.execPath, ['-e', script, `${h.baseUrl}/api/burst`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      await new Promise((r) => child.once('exit', r));
      expect(Number(out.trim())).toBe(400);
      expect(mostPerTick).toBeGreaterThan(0);
      expect(mostPerTick).toBeLessThanOrEqual(2 * 8);
    } finally {
      running = false;
      await h.close();
    }
  });
});
