import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, putState, testStream, type TestHost } from '@camd/core/testing';
import rtsp from './index.js';
import { rawExchange } from './test-utils.js';

const stateDir = mkdtempSync(join(tmpdir(), 'camd-rtsp-port-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** A daemon start with `rtsp.port` in its config, on the state dir every start of this test shares. */
async function startWith(port: number): Promise<TestHost> {
  return createTestHost({
    media: false,
    stateDir,
    plugins: [{ def: rtsp, options: { host: '127.0.0.1' } }],
    config: { rtsp: { port, streams: [testStream()] } } as never,
  });
}

async function answersOn(port: number): Promise<boolean> {
  return /^RTSP\/1\.0 200/.test(await rawExchange(port, 'OPTIONS rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 1\r\n\r\n', 200, 2000));
}

async function storedPort(h: TestHost): Promise<number> {
  return ((await (await h.fetch('/api/state/rtspPort')).json()) as { value: number }).value;
}

describe("plugin-rtsp: the config's rtsp.port against the stored rtspPort", () => {
  it('an edited config wins; a port set through the API wins until the config changes', async () => {
    const [a, b, c, d] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    let h = await startWith(a);
    try {
      expect(await storedPort(h)).toBe(a);
      expect(await answersOn(a)).toBe(true);
    } finally {
      await h.close();
    }
    // The config now names another port: it replaces the one stored at the first start.
    h = await startWith(b);
    try {
      expect(await storedPort(h)).toBe(b);
      expect(await answersOn(b)).toBe(true);
      expect(await answersOn(a)).toBe(false);
      // An operator moves the port through the API.
      expect((await putState(h, 'rtspPort', c)).status).toBe(200);
    } finally {
      await h.close();
    }
    // Same config as before: the API's port stays.
    h = await startWith(b);
    try {
      expect(await storedPort(h)).toBe(c);
      expect(await answersOn(c)).toBe(true);
    } finally {
      await h.close();
    }
    // The config changes again: it wins over the API's port.
    h = await startWith(d);
    try {
      expect(await storedPort(h)).toBe(d);
      expect(await answersOn(d)).toBe(true);
      // Only the daemon (or an administrator) writes down the config's port.
      expect((await putState(h, 'rtspConfigPort', 1, h.users.operator)).status).toBe(403);
    } finally {
      await h.close();
    }
  });
});
