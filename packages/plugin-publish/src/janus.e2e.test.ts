import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import { startProc, stopAll } from './test-utils.js';

// The README's Janus recipe: Janus (Debian's) pulls camd's RTSP once with its streaming plugin and
// would serve WebRTC viewers from there. This checks the pull half with Janus's own API (a browser
// watching from Janus is not part of this test).
const LIB = '/usr/lib/x86_64-linux-gnu/janus';

let host: TestHost | undefined;
let dir: string | undefined;
afterEach(async () => {
  await stopAll();
  await host?.close();
  host = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function janus(port: number, rtspUrl: string): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'camd-janus-'));
  for (const d of ['plugins', 'transports', 'none']) mkdirSync(join(dir, d));
  // Only the streaming plugin and the HTTP transport are loaded.
  symlinkSync(join(LIB, 'plugins/libjanus_streaming.so'), join(dir, 'plugins/libjanus_streaming.so'));
  symlinkSync(join(LIB, 'transports/libjanus_http.so'), join(dir, 'transports/libjanus_http.so'));
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${dir}/plugins"
  transports_folder = "${dir}/transports"
  events_folder = "${dir}/none"
  loggers_folder = "${dir}/none"
  debug_level = 4
}
media: { rtp_port_range = "20000-40000" }
nat: { ice_ignore_list = "vmnet" }
`,
  );
  writeFileSync(
    join(dir, 'janus.transport.http.jcfg'),
    `general: { json = "compact", base_path = "/janus", http = true, port = ${port}, ip = "127.0.0.1", https = false }
admin: { admin_http = false }
`,
  );
  const u = new URL(rtspUrl);
  writeFileSync(
    join(dir, 'janus.plugin.streaming.jcfg'),
    `camd-stream1: {
  type = "rtsp"
  id = 1
  description = "camd stream1"
  audio = false
  video = true
  url = "rtsp://${u.host}${u.pathname}"
  rtsp_user = "${decodeURIComponent(u.username)}"
  rtsp_pwd = "${decodeURIComponent(u.password)}"
  rtsp_reconnect_delay = 5
}
`,
  );
  startProc('janus', ['-F', dir, '-C', join(dir, 'janus.jcfg')]);
}

async function call(base: string, path: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(base + path, { method: 'POST', body: JSON.stringify({ transaction: Math.random().toString(36).slice(2), ...body }) });
  return res.json();
}

describe('Janus pulling camd RTSP (README recipe)', () => {
  it("Janus's streaming plugin receives the stream from one camd RTSP session", async () => {
    const [rtspPort, janusPort] = [await freePort(), await freePort()];
    host = await createTestHost({ plugins: [{ def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } }] });
    await janus(janusPort, `rtsp://viewer:viewer-secret@127.0.0.1:${rtspPort}/stream1`);
    const base = `http://127.0.0.1:${janusPort}`;
    const session = await until(() => call(base, '/janus', { janus: 'create' }).catch(() => undefined), 20_000, 'Janus to answer');
    const sid = session.data.id as number;
    const handle = (await call(base, `/janus/${sid}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id as number;
    const info = await until(
      async () => {
        const r = await call(base, `/janus/${sid}/${handle}`, { janus: 'message', body: { request: 'info', id: 1 } });
        const media = r.plugindata?.data?.info?.media as { type: string; age_ms?: number }[] | undefined;
        const video = media?.find((m) => m.type === 'video');
        return video?.age_ms !== undefined && video.age_ms < 1000 ? r.plugindata.data.info : undefined;
      },
      30_000,
      'Janus to receive video from camd',
    );
    expect(info.type).toBe('live');
    const stats = (await (await host.fetch('/api/stats')).json()) as { stream1: { rtsp: { sessions: number } } };
    expect(stats.stream1.rtsp.sessions).toBe(1);
  });
});
