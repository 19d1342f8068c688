import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import onvif from './index.js';

const run = promisify(execFile);
type Callback = (err: Error | null, result: any) => void;
const { Cam } = createRequire(import.meta.url)('onvif') as {
  Cam: new (opts: Record<string, unknown>, cb: (err: Error | null) => void) => Record<string, (...args: any[]) => void> & Record<string, any>;
};

/** The `onvif` library (agsh/onvif, what many Node NVR projects use): a second client with its own XML reading. */
async function connect(port: number, username: string, password: string, extra: Record<string, unknown> = {}) {
  return new Promise<any>((resolve, reject) => {
    const cam = new Cam({ hostname: '127.0.0.1', port, username, password, timeout: 10_000, preserveAddress: true, ...extra }, (err) =>
      err ? reject(err) : resolve(cam),
    );
  });
}
const call = <T = any>(cam: any, method: string, ...args: unknown[]) =>
  new Promise<T>((resolve, reject) => cam[method](...args, ((err, r) => (err ? reject(err) : resolve(r))) as Callback));

describe('plugin-onvif with the onvif library', () => {
  let h: TestHost;
  let rtspPort: number;
  beforeAll(async () => {
    rtspPort = await freePort();
    h = await createTestHost({
      plugins: [
        { def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { streams: [testStream()] },
    });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('connects (WS-UsernameToken), reads the profile, plays the stream URI and changes the encoder', async () => {
    const cam = await connect(h.httpPort, 'operator', 'operator-secret');
    expect(cam.profiles.map((p: any) => p.$.token)).toEqual(['profile_stream1']);
    expect(cam.activeSource.videoSourceConfigurationToken).toBe('vsc_stream1');
    expect(cam.activeSource.encoding).toBe('H264');
    const info = await call(cam, 'getDeviceInformation');
    expect(info.manufacturer).toBe('camd');
    const stream = await call(cam, 'getStreamUri', { protocol: 'RTSP' });
    const { stdout } = await run(
      'ffprobe',
      [
        '-v',
        'error',
        '-rtsp_transport',
        'tcp',
        '-show_entries',
        'stream=width,height',
        '-of',
        'csv=p=0',
        stream.uri.replace('rtsp://', 'rtsp://operator:operator-secret@'),
      ],
      { timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('320,240');
    expect((await call(cam, 'getSnapshotUri', {})).uri).toBe(`http://127.0.0.1:${h.httpPort}/api/streams/stream1/snapshot.jpg`);

    const [config] = await call<any[]>(cam, 'getVideoEncoderConfigurations');
    expect(config.rateControl.bitrateLimit).toBe(500);
    await call(cam, 'setVideoEncoderConfiguration', { ...config, token: config.$.token, rateControl: { ...config.rateControl, bitrateLimit: 700 } });
    expect((await h.fetch('/api/state/streamBitrate').then((r) => r.json())).value).toBe(700_000);
  });

  it('reads scopes, hostname, interfaces and users, and manages users as an administrator', async () => {
    const cam = await connect(h.httpPort, 'admin', 'admin-secret');
    const scopes = await call<any[]>(cam, 'getScopes');
    expect(scopes.map((s) => s.scopeItem)).toEqual(expect.arrayContaining(['onvif://www.onvif.org/Profile/Streaming', 'onvif://www.onvif.org/name/camd']));
    expect((await call(cam, 'getHostname')).name).toBeTruthy();
    const interfaces = await call<any>(cam, 'getNetworkInterfaces');
    expect(JSON.stringify(interfaces)).toContain('127.0.0.1');
    await call(cam, 'createUsers', [{ username: 'vms', password: 'vms-secret', userLevel: 'User' }]);
    const users = await call<any[]>(cam, 'getUsers');
    expect(users.find((u) => u.username === 'vms')).toMatchObject({ userLevel: 'User' });
    const asVms = await connect(h.httpPort, 'vms', 'vms-secret');
    expect(asVms.profiles).toHaveLength(1);
    await call(cam, 'deleteUsers', ['vms']);
    expect((await call<any[]>(cam, 'getUsers')).some((u) => u.username === 'vms')).toBe(false);
  });

  it('HTTP Digest instead of WS-UsernameToken', async () => {
    const cam = await connect(h.httpPort, 'viewer', 'viewer-secret', { useWSSecurity: false });
    expect(cam.profiles).toHaveLength(1);
    const stream = await call(cam, 'getStreamUri', { protocol: 'RTSP' });
    expect(stream.uri).toBe(`rtsp://127.0.0.1:${rtspPort}/stream1`);
    const wrong = await connect(h.httpPort, 'viewer', 'wrong', { useWSSecurity: false }); // the library connects on pre-auth calls
    await expect(call(wrong, 'getProfiles')).rejects.toThrow();
  });
});
