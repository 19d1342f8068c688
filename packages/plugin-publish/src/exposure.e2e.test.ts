import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { targetStats } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

// Targets that fail for real (nothing listens on 127.0.0.5:1), so that their errors, health checks and
// log lines exist. Everything that locates them: host, user, path (the stream key), query.
const RTSP_TARGET = 'rtsp://pubuser:pw-9f2c@127.0.0.5:1/live/SECRETKEY?auth=q7Tok3nZ';
const RTMP_TARGET = 'rtmp://127.0.0.5:1/app/RTMPKEY-55aa';
const LOCATING = ['127.0.0.5', 'pubuser', 'pw-9f2c', 'SECRETKEY', '/live', 'q7Tok3nZ', 'auth=', 'RTMPKEY-55aa', 'rtsp://', 'rtmp://'];
const contains = (text: string) => LOCATING.filter((s) => text.includes(s));

describe('a publish target is named, never located, outside /api/stats', () => {
  it('anonymous /api/health and /metrics, Media_r health and every log line name it by name or position only', async () => {
    host = await createTestHost({
      // Debug and up are kept: not even a debug line may carry the URL.
      logLevel: 'debug',
      config: { metrics: { public: true } },
      plugins: [
        {
          def: publish,
          options: {
            targets: [
              { stream: 'stream1', url: RTSP_TARGET, name: 'studio' },
              { stream: 'stream1', url: RTMP_TARGET },
            ],
          },
        },
      ],
    });
    // Both fail (connection refused), and say so.
    await until(async () => (await targetStats(host!)).every((t) => t.errors > 0), 30_000, 'both targets to fail once');
    const anonymousHealth = await host.fetch('/api/health', { user: null });
    expect(anonymousHealth.status).toBe(503);
    const anonymous = await anonymousHealth.text();
    expect(JSON.parse(anonymous)).toEqual({ healthy: false, checks: [{ name: 'stream:stream1', healthy: true }] });

    // Media_r sees every check, named `publish <stream> <name or #position>`, its detail concealed.
    const full = (await (await host.fetch('/api/health', { user: host.users.viewer })).json()) as {
      checks: { name: string; healthy: boolean; detail?: string }[];
    };
    const checks = full.checks.filter((c) => c.name.startsWith('publish '));
    expect(checks.map((c) => c.name).sort()).toEqual(['publish stream1 #1', 'publish stream1 studio']);
    expect(checks.every((c) => !c.healthy && c.detail)).toBe(true);
    expect(checks.find((c) => c.name.endsWith('studio'))!.detail).toContain('<host>');

    const metrics = await (await host.fetch('/metrics', { user: null })).text();
    expect(metrics).toContain('camd_health_check{check="publish stream1 studio"} 0');
    expect(metrics).toContain('camd_health_check{check="publish stream1 #1"} 0');

    for (const [what, text] of [
      ['anonymous health', anonymous],
      ['Media_r health', JSON.stringify(full)],
      ['metrics', metrics],
      ['the log', host.recentLog()],
    ] as const) {
      expect(contains(text), what).toEqual([]);
    }
    // /api/stats (Media_r) shows where it goes, password and RTMP stream key masked: the operator's view.
    const stats = await targetStats(host);
    expect(stats.map((t) => [t.name, t.url])).toEqual([
      ['studio', 'rtsp://pubuser:***@127.0.0.5:1/live/SECRETKEY?auth=q7Tok3nZ'],
      ['#1', 'rtmp://127.0.0.5:1/app/***'],
    ]);
    expect(JSON.stringify(stats)).not.toContain('pw-9f2c');
    expect(JSON.stringify(stats)).not.toContain('RTMPKEY-55aa');
  });

  it('a rejected publishTargets value is described, never quoted, in the answer and in the log', async () => {
    host = await createTestHost({ media: false, plugins: [publish] });
    const put = (value: unknown) =>
      host!.fetch('/api/state/publishTargets', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
    // A URL where a target object belongs, a target with a field of its own, a whole URL as the list.
    for (const [value, message] of [
      [[RTSP_TARGET], `publishTargets[0]: expected object {stream, url, ca?, name?}, got a string of ${RTSP_TARGET.length} characters`],
      [
        [{ stream: 'stream1', url: RTSP_TARGET, password: 'pw-9f2c' }],
        'publishTargets[0].password: expected no such field (stream, url, ca, name), got a string of 7 characters',
      ],
      [RTSP_TARGET, `publishTargets: expected array of at most 16 {stream, url, ca?, name?}, got a string of ${RTSP_TARGET.length} characters`],
      [
        [{ stream: 'stream1', url: `${RTSP_TARGET} x` }],
        `publishTargets[0].url: expected URL without spaces, quotes, backslashes or control characters, got a string of ${RTSP_TARGET.length + 2} characters`,
      ],
      [
        [{ stream: 'stream1', url: RTSP_TARGET, name: 'bad name!' }],
        'publishTargets[0].name: expected target name (1-64 of A-Z a-z 0-9 _ . -), got a string of 9 characters',
      ],
    ] as const) {
      const res = await put(value);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { message: string };
      expect(body.message).toBe(message);
    }
    const dup = await put([
      { stream: 'stream1', url: 'rtsp://127.0.0.1:1/a', name: 'studio' },
      { stream: 'stream1', url: 'rtsp://127.0.0.1:1/b', name: 'studio' },
    ]);
    // publishTargets can hold secrets: even a harmless value is described rather than quoted.
    expect(((await dup.json()) as { message: string }).message).toBe(
      'publishTargets[1].name: expected a name no other target has, got a string of 6 characters',
    );
    expect(contains(host.recentLog())).toEqual([]);
    // The refusals are in the log (info), each naming the field.
    expect(host.recentLog()).toMatch(/publishTargets\[0\]\.password: expected no such field/);
  });
});
