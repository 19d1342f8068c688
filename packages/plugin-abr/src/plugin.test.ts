import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@camd/core/testing';
import { definePlugin, PLUGIN_API_VERSION, STAGE } from '@camd/core';
import abr, { ABR_API, type AbrApi } from './index.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

const feedback = (h: TestHost, packetLoss: number, clientId = 'c1') =>
  h.host.hooks.networkFeedback.call({ stream: 'stream1', clientId, transport: 'rtsp/udp', packetLoss, receivedAt: Date.now() });

const opts = { tickMs: 100, decreaseIntervalMs: 0, increaseIntervalMs: 0, recoverAfterMs: 0 };

describe('plugin-abr', () => {
  it('writes its decision through the state store, visible to subscribers and in /api/stats', async () => {
    host = await createTestHost({ media: false, plugins: [{ def: abr, options: opts }] });
    await host.host.state.set('abrMinBitrate', 100_000);
    const seen: unknown[] = [];
    host.host.state.watch('streamBitrate', (c) => seen.push([c.value, c.by]));
    feedback(host, 0.2);
    await new Promise((r) => setTimeout(r, 350));
    expect(seen[0]).toEqual([400_000, '@camd/plugin-abr']);
    const stats = (await (await host.fetch('/api/stats')).json()) as Record<string, { abr: { target: number; lastReason: string } }>;
    // ABR keeps deciding while the feedback lasts: the target the stats show is one it wrote (the
    // latest at the time of the request, which subscribers hear once it is persisted), not
    // necessarily the value at the time of this line.
    await expect.poll(() => seen.map((v) => (v as [number])[0])).toContain(stats.stream1!.abr.target);
    expect(stats.stream1!.abr.lastReason).toMatch(/loss 20.0%/);
  });

  it("resumes with the operator's bitrate after a restart, not with ABR's last decision", async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const stateDir = mkdtempSync(join(tmpdir(), 'camd-abr-'));
    try {
      host = await createTestHost({ media: false, stateDir, plugins: [{ def: abr, options: opts }] });
      await host.fetch('/api/state/streamBitrate', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"value":2000000}',
        user: host.users.operator,
      });
      feedback(host, 0.2);
      await new Promise((r) => setTimeout(r, 350));
      expect(host.host.state.get('streamBitrate')).toBeLessThan(2_000_000);
      await host.close();
      host = await createTestHost({ media: false, stateDir, plugins: [{ def: abr, options: opts }] });
      expect(host.host.state.get('streamBitrate')).toBe(2_000_000);
      expect(((await (await host.fetch('/api/state/abrNominal')).json()) as { value: unknown }).value).toEqual({ stream1: 2_000_000 });
    } finally {
      await host?.close();
      host = undefined;
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('does nothing when disabled', async () => {
    host = await createTestHost({ media: false, plugins: [{ def: abr, options: opts }] });
    await host.host.state.set('abrEnabled', false);
    feedback(host, 0.5);
    await new Promise((r) => setTimeout(r, 300));
    expect(host.host.state.get('streamBitrate')).toBe(500_000);
  });

  it('lets a third-party policy replace the built-in loss/bandwidth rule through its hook', async () => {
    const gcc = definePlugin({
      name: 'camd-plugin-gcc',
      apiVersion: PLUGIN_API_VERSION,
      requires: ['@camd/plugin-abr'],
      setup(ctx) {
        const api = ctx.container.resolve<AbrApi>(ABR_API);
        api.hooks.chooseBitrate.tap({ name: 'camd-plugin-gcc', stage: STAGE.EARLY }, (i) =>
          i.current !== 777_000 ? { target: 777_000, reason: 'gcc says so' } : undefined,
        );
      },
    });
    host = await createTestHost({ media: false, plugins: [gcc, { def: abr, options: opts }] });
    feedback(host, 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(host.host.state.get('streamBitrate')).toBe(777_000);
  });

  it('keeps to the floor and refuses an invalid bound', async () => {
    host = await createTestHost({ media: false, plugins: [{ def: abr, options: opts }] });
    expect(
      (await host.fetch('/api/state/abrMinBitrate', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"value":-5}' })).status,
    ).toBe(400);
    await host.host.state.set('abrMinBitrate', 450_000);
    for (let i = 0; i < 5; i++) {
      feedback(host, 0.5);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(host.host.state.get('streamBitrate')).toBe(450_000);
  });
});
