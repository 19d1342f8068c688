import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { targetStats } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

const put = (h: TestHost, value: unknown, user = h.users.admin) =>
  h.fetch('/api/state/publishTargets', { method: 'PUT', user, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });

describe('publishTargets', () => {
  it('Admin writes it; Media_r reads it with credentials masked; nobody reads a credential back, not even Admin', async () => {
    host = await createTestHost({ media: false, plugins: [publish] });
    const value = [{ stream: 'stream1', url: 'rtsp://pub:hunter22@127.0.0.1:1/cam' }];
    expect((await put(host, value, host.users.operator)).status).toBe(403);
    expect((await put(host, value, host.users.viewer)).status).toBe(403);
    const ok = await put(host, value);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ key: 'publishTargets', value: [{ stream: 'stream1', url: 'rtsp://pub:***@127.0.0.1:1/cam' }] });
    for (const user of [host.users.viewer, host.users.admin]) {
      const one = await host.fetch('/api/state/publishTargets', { user });
      expect(await one.json()).toEqual({ key: 'publishTargets', value: [{ stream: 'stream1', url: 'rtsp://pub:***@127.0.0.1:1/cam' }] });
      expect(await (await host.fetch('/api/state', { user })).text()).not.toContain('hunter22');
    }
    expect((await host.fetch('/api/state/publishTargets', { user: host.users.nobody })).status).toBe(403);
    // The daemon itself (the plugin) still has the real URL.
    expect(host.host.state.get('publishTargets')).toEqual(value);
  });

  it('the change feed shows the masked value too', async () => {
    host = await createTestHost({ media: false, plugins: [publish] });
    const ac = new AbortController();
    const res = await host.fetch('/api/events', { user: host.users.viewer, signal: ac.signal });
    const reader = res.body!.getReader();
    let text = '';
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })().catch(() => undefined);
    await until(() => text.includes('event: snapshot'), 5000, 'the snapshot');
    await put(host, [{ stream: 'stream1', url: 'srt://127.0.0.1:9000?passphrase=topsecret99' }]);
    await until(() => text.includes('"key":"publishTargets"'), 5000, 'the change event');
    ac.abort();
    await read;
    expect(text).toContain('passphrase=***');
    expect(text).not.toContain('topsecret99');
  });

  it('refuses a bad URL with the field and the reason, and never echoes it', async () => {
    host = await createTestHost({ media: false, plugins: [publish] });
    const res = await put(host, [{ stream: 'stream1', url: 'http://u:leaked-pw@h/x' }]);
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toMatch(/publishTargets\[0\]\.url: expected URL scheme rtsp, rtsps, rtmp, rtmps or srt/);
    expect(body).not.toContain('leaked-pw');
  });

  it('bad options fail the plugin with a message naming the field (and no URL in it)', async () => {
    host = await createTestHost({
      media: false,
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: 'rtsp://u:pw-in-options@h/x?transport=quic' }] } }],
    });
    const { plugins } = (await (await host.fetch('/api/plugins')).json()) as { plugins: { name: string; status: string; error?: string }[] };
    const p = plugins.find((x) => x.name === '@camd/plugin-publish')!;
    expect(p.status).toBe('failed');
    expect(p.error).toMatch(/publishTargets\[0\]\.url: expected transport=tcp or transport=udp/);
    expect(p.error).not.toContain('pw-in-options');
  });

  it('a target of a stream that does not exist is reported invalid (and unhealthy), not retried; live changes add and remove targets', async () => {
    host = await createTestHost({ media: false, plugins: [{ def: publish, options: { targets: [{ stream: 'nope', url: 'rtsp://127.0.0.1:1/x' }] } }] });
    const health = (await (await host.fetch('/api/health')).json()) as { checks: { name: string; healthy: boolean; detail?: string }[] };
    expect(health.checks.find((c) => c.name === 'publish nope #0')).toEqual({
      name: 'publish nope #0',
      healthy: false,
      detail: 'no stream "nope" is configured',
    });
    await put(host, [{ stream: 'stream1', url: 'rtsp://127.0.0.1:1/x' }]);
    const t = await until(async () => (await targetStats(host!))[0], 5000, 'the new target in the stats');
    expect(t).toMatchObject({ name: '#0', url: 'rtsp://127.0.0.1:1/x', protocol: 'rtsp', state: 'waiting', bytesSent: 0, reconnects: 0 });
    const after = (await (await host.fetch('/api/health')).json()) as { checks: { name: string }[] };
    expect(after.checks.some((c) => c.name.startsWith('publish nope'))).toBe(false);
    // A name given later replaces the position; the running target keeps its connection (same URL).
    await put(host, [{ stream: 'stream1', url: 'rtsp://127.0.0.1:1/x', name: 'studio' }]);
    await until(async () => (await targetStats(host!))[0]?.name === 'studio', 5000, 'the target to take its name');
    expect((await targetStats(host))[0]).toMatchObject({ reconnects: 0 });
    expect(((await (await host.fetch('/api/health')).json()) as { checks: { name: string }[] }).checks.map((c) => c.name)).toContain('publish stream1 studio');
    await put(host, []);
    await until(async () => (await targetStats(host!)).length === 0, 5000, 'the target to go');
  });
});
