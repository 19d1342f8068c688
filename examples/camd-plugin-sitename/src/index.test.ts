import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, TEST_USERS, type TestHost } from '@camd/core/testing';
import sitename from './index.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

const put = (h: TestHost, value: unknown, user = TEST_USERS.operator) =>
  h.fetch('/api/state/siteName', { user, method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });

describe('camd-plugin-sitename', () => {
  it('owns a validated setting, serves its route and adds to the stats', async () => {
    host = await createTestHost({ plugins: [sitename], media: false });
    expect((await put(host, 'Hall "A"')).status).toBe(400);
    expect((await put(host, 'Hall A', TEST_USERS.viewer)).status).toBe(403);
    expect((await put(host, 'Hall A')).status).toBe(200);
    expect(await (await host.fetch('/api/site', { user: TEST_USERS.viewer })).json()).toEqual({ siteName: 'Hall A' });
    const stats = (await (await host.fetch('/api/stats')).json()) as Record<string, { siteName?: string }>;
    expect(stats.stream1?.siteName).toBe('Hall A');
  });

  it('draws the name into a live stream: the pipeline is rebuilt and frames keep flowing', async () => {
    host = await createTestHost({ plugins: [sitename] });
    await host.host.hub.nextFrame('stream1', 10_000);
    expect((await put(host, 'Gate 3')).status).toBe(200);
    // After the rebuild the stream produces a new keyframe and carries on.
    const deadline = Date.now() + 15_000;
    let keyframes = 0;
    while (keyframes < 2 && Date.now() < deadline) if ((await host.host.hub.nextFrame('stream1', 10_000)).keyframe) keyframes++;
    expect(keyframes).toBe(2);
  });
});
