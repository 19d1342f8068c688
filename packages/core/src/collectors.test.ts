import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createHooks, type HealthCheck } from './hooks.js';
import { instrumentHooks } from './hooks-instrument.js';
import { gatherHealth, gatherStats } from './collectors.js';
import { createTestHost, TEST_USERS, type TestHost } from './testing/index.js';
import { definePlugin, PLUGIN_API_VERSION } from './plugins/contract.js';

/** A logger whose records the test can read. */
function recordingLogger() {
  const records: Array<{ level: number; msg: string; plugin?: string; hook?: string }> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), records, errors: () => records.filter((r) => r.level === 50) };
}

describe('collector hooks', () => {
  it('leave a throwing collectStats tap out; the taps before and after it still answer', () => {
    const hooks = createHooks();
    instrumentHooks(hooks, pino({ level: 'silent' }));
    hooks.collectStats.tap('plugin-a', (r) => {
      (r.stream1 as Record<string, unknown>).a = 1;
      return r;
    });
    hooks.collectStats.tap('plugin-flaky', () => {
      throw new Error('sensor bus timeout');
    });
    hooks.collectStats.tap('plugin-b', (r) => {
      for (const s of Object.keys(r)) (r[s] as Record<string, unknown>).b = 2;
      return r;
    });
    expect(gatherStats(hooks, { stream1: { fps: 30 } })).toEqual({ stream1: { fps: 30, a: 1, b: 2 }, errors: { 'plugin-flaky': 'sensor bus timeout' } });
    // Without a failure there is no `errors` entry.
    const ok = createHooks();
    instrumentHooks(ok, pino({ level: 'silent' }));
    expect(gatherStats(ok, { stream1: { fps: 30 } })).toEqual({ stream1: { fps: 30 } });
  });

  it('turn a throwing collectHealth tap into a failing check named after the plugin', () => {
    const hooks = createHooks();
    instrumentHooks(hooks, pino({ level: 'silent' }));
    hooks.collectHealth.tap('plugin-flaky', () => {
      throw new Error('no answer from the PTZ head');
    });
    hooks.collectHealth.tap('plugin-b', (checks) => [...checks, { name: 'b', healthy: true }]);
    const core: HealthCheck[] = [{ name: 'stream:stream1', healthy: true }];
    expect(gatherHealth(hooks, core)).toEqual([
      { name: 'stream:stream1', healthy: true },
      { name: 'b', healthy: true },
      { name: 'plugin:plugin-flaky', healthy: false, detail: 'collectHealth failed: no answer from the PTZ head' },
    ]);
  });

  it('log a failure once, with plugin and hook, until the tap answers again', () => {
    const { logger, records, errors } = recordingLogger();
    const hooks = createHooks();
    instrumentHooks(hooks, logger);
    let failure: string | undefined = 'sensor bus timeout';
    hooks.collectStats.tap('plugin-flaky', (r) => {
      if (failure) throw new Error(failure);
      return r;
    });
    for (let i = 0; i < 5; i++) gatherStats(hooks, {});
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({
      plugin: 'plugin-flaky',
      hook: 'collectStats',
      msg: expect.stringMatching(/^hook collectStats: "plugin-flaky" failed: sensor bus timeout/),
    });
    failure = 'sensor unplugged';
    gatherStats(hooks, {});
    gatherStats(hooks, {});
    expect(errors()).toHaveLength(2);
    failure = undefined;
    expect(gatherStats(hooks, {})).toEqual({});
    expect(records.at(-1)).toMatchObject({ level: 30, plugin: 'plugin-flaky', hook: 'collectStats', msg: 'hook collectStats: "plugin-flaky" answers again' });
    failure = 'sensor bus timeout';
    gatherStats(hooks, {});
    expect(errors()).toHaveLength(3);
  });
});

describe('GET /api/stats and /api/health with a failing collector', () => {
  let h: TestHost | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const flaky = definePlugin({
    name: 'test-flaky',
    apiVersion: PLUGIN_API_VERSION,
    setup(ctx) {
      ctx.hooks.collectStats.tap('test-flaky', () => {
        throw new Error('sensor bus timeout');
      });
      ctx.hooks.collectHealth.tap('test-flaky', () => {
        throw new TypeError("Cannot read properties of undefined (reading 'temperature')");
      });
    },
  });
  const working = definePlugin({
    name: 'test-working',
    apiVersion: PLUGIN_API_VERSION,
    setup(ctx) {
      ctx.hooks.collectStats.tap('test-working', (report) => {
        for (const s of Object.keys(report)) (report[s] as Record<string, unknown>).working = { figure: 42 };
        return report;
      });
      ctx.hooks.collectHealth.tap('test-working', (checks) => [...checks, { name: 'working', healthy: true }]);
    },
  });

  it('answer 200 with the working figures and the failing plugin named (health: 503 naming it)', async () => {
    h = await createTestHost({ media: false, plugins: [flaky, working] });
    const res = await h.fetch('/api/stats', { user: TEST_USERS.viewer });
    expect(res.status).toBe(200);
    const stats = (await res.json()) as Record<string, Record<string, unknown>>;
    expect(Object.keys(stats)).toEqual(['stream1', 'errors', 'auth']);
    expect(stats.stream1).toMatchObject({ clientCount: 0, errors: 0, working: { figure: 42 } });
    expect(stats.errors).toEqual({ 'test-flaky': 'sensor bus timeout' });

    const health = await h.fetch('/api/health', { user: TEST_USERS.viewer });
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({
      healthy: false,
      checks: [
        { name: 'stream:stream1', healthy: true },
        { name: 'working', healthy: true },
        { name: 'plugin:test-flaky', healthy: false, detail: "collectHealth failed: Cannot read properties of undefined (reading 'temperature')" },
      ],
    });
  });
});
