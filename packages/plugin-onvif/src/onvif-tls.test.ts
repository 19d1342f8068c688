import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { createLogger } from '@camd/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import onvif from './index.js';
import { DiscoveryService } from './discovery.js';
import { soap, soapRequest, values } from './onvif-test-utils.js';

const run = promisify(execFile);
type Callback = (err: Error | null, result: any) => void;
const { Cam } = createRequire(import.meta.url)('onvif') as {
  Cam: new (opts: Record<string, unknown>, cb: (err: Error | null) => void) => Record<string, (...args: any[]) => void> & Record<string, any>;
};
const call = <T = any>(cam: any, method: string, ...args: unknown[]) =>
  new Promise<T>((resolve, reject) => cam[method](...args, ((err, r) => (err ? reject(err) : resolve(r))) as Callback));

/** A SOAP request over HTTPS, trusting `ca` (Node's fetch takes no CA of its own). */
function soapTls(
  port: number,
  ca: string,
  service: string,
  body: string,
  user?: { username: string; password: string },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/onvif/${service}_service`,
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/soap+xml' },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    req.end(soapRequest(body, user));
  });
}

describe('plugin-onvif over TLS', () => {
  let h: TestHost;
  let rtspPort: number;
  let rtspsPort: number;
  let tlsPort: number;
  let ca: string;
  beforeAll(async () => {
    [rtspPort, rtspsPort] = [await freePort(), await freePort()];
    h = await createTestHost({
      plugins: [
        { def: rtsp, options: { port: rtspPort, tlsPort: rtspsPort, host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { http: { tls: { port: 0 } }, streams: [testStream()] },
    });
    tlsPort = h.host.tls.httpsPort;
    ca = h.host.tls.certificates!.current.cert;
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('the onvif library connects over HTTPS (WS-UsernameToken), reads profiles and plays the RTSP URI', async () => {
    const cam = await new Promise<any>((resolve, reject) => {
      const c = new Cam(
        {
          hostname: '127.0.0.1',
          port: tlsPort,
          username: 'operator',
          password: 'operator-secret',
          timeout: 10_000,
          preserveAddress: true,
          useSecure: true,
          secureOpts: { ca, servername: 'localhost' },
        },
        (err) => (err ? reject(err) : resolve(c)),
      );
    });
    expect(cam.profiles.map((p: any) => p.$.token)).toEqual(['profile_stream1']);
    // What it read from GetServices: the services' addresses on HTTPS (Media2 among them).
    expect(cam.uri.media.href).toBe(`https://127.0.0.1:${tlsPort}/onvif/media_service`);
    expect(cam.media2Support).toBe(true);
    expect((await call(cam, 'getSnapshotUri', {})).uri).toBe(`https://127.0.0.1:${tlsPort}/api/streams/stream1/snapshot.jpg`);
    const stream = await call(cam, 'getStreamUri', { protocol: 'RTSP' });
    expect(stream.uri).toBe(`rtsp://127.0.0.1:${rtspPort}/stream1`);
  });

  it('GetServices and GetCapabilities: https:// addresses and TLS1.2 over HTTPS; http:// ones to a client that came over plain HTTP', async () => {
    const services = await soapTls(tlsPort, ca, 'device', '<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>');
    expect(values(services.text, 'XAddr').every((x) => x.startsWith(`https://127.0.0.1:${tlsPort}/onvif/`))).toBe(true);
    expect(services.text).toContain('TLS1.2="true"');
    const caps = await soapTls(tlsPort, ca, 'device', '<tds:GetCapabilities/>');
    expect(values(caps.text, 'XAddr')).toContain(`https://127.0.0.1:${tlsPort}/onvif/device_service`);
    expect(values(caps.text, 'TLS1.2')).toEqual(['true']);
    const plain = await soap(h.baseUrl, 'device', '<tds:GetCapabilities/>');
    expect(values(plain.text, 'XAddr')).toContain(`http://127.0.0.1:${h.httpPort}/onvif/device_service`);
  });

  it('GetNetworkProtocols names HTTP, HTTPS and RTSP with RTSPS in its extension; Media2 gives an rtsps:// URI that plays', async () => {
    const r = await soapTls(tlsPort, ca, 'device', '<tds:GetNetworkProtocols/>', h.users.viewer);
    expect(values(r.text, 'Name')).toEqual(['HTTP', 'HTTPS', 'RTSP']);
    expect(values(r.text, 'Port')).toEqual([String(h.httpPort), String(tlsPort), String(rtspPort), String(rtspsPort)]);
    expect(values(r.text, 'Enabled')).toEqual(['true', 'true', 'true', 'true']);
    const uri = await soapTls(
      tlsPort,
      ca,
      'media2',
      '<tr2:GetStreamUri><tr2:Protocol>RtspsUnicast</tr2:Protocol><tr2:ProfileToken>profile_stream1</tr2:ProfileToken></tr2:GetStreamUri>',
      h.users.viewer,
    );
    const [u] = values(uri.text, 'Uri');
    expect(u).toBe(`rtsps://127.0.0.1:${rtspsPort}/stream1`);
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', u!.replace('rtsps://', 'rtsps://viewer:viewer-secret@')],
      {
        timeout: 30_000,
      },
    );
    expect(stdout.trim()).toBe('320,240');
  });

  it('SetNetworkProtocols moves and turns off RTSPS live (RTSP plays on), refuses a port in use and HTTP changes', async () => {
    const set = (protocols: string, user = h.users.admin) =>
      soapTls(tlsPort, ca, 'device', `<tds:SetNetworkProtocols>${protocols}</tds:SetNetworkProtocols>`, user);
    const entry = (name: string, enabled: boolean, port: number, ext = '') =>
      `<tds:NetworkProtocols><tt:Name>${name}</tt:Name><tt:Enabled>${enabled}</tt:Enabled><tt:Port>${port}</tt:Port>${ext}</tds:NetworkProtocols>`;
    const rtsps = (enabled: boolean, port: number) =>
      `<tt:Extension><camd:RTSPS xmlns:camd="urn:camd:onvif"><camd:Enabled>${enabled}</camd:Enabled><camd:Port>${port}</camd:Port></camd:RTSPS></tt:Extension>`;
    expect((await set(entry('RTSP', true, rtspPort, rtsps(true, rtspsPort)), h.users.operator)).text).toContain('ter:NotAuthorized');
    const moved = await freePort();
    expect((await set(entry('RTSP', true, rtspPort, rtsps(true, moved)))).status).toBe(200);
    await until(() => handshakes(moved), 10_000, 'RTSPS on the new port');
    expect(await handshakes(rtspsPort)).toBe(false);
    // Off: Media2 refuses RtspsUnicast; RTSP itself still answers.
    expect((await set(entry('RTSP', true, rtspPort, rtsps(false, moved)))).status).toBe(200);
    await until(async () => !(await handshakes(moved)), 10_000, 'RTSPS off');
    const refused = await soapTls(
      tlsPort,
      ca,
      'media2',
      '<tr2:GetStreamUri><tr2:Protocol>RtspsUnicast</tr2:Protocol><tr2:ProfileToken>profile_stream1</tr2:ProfileToken></tr2:GetStreamUri>',
      h.users.viewer,
    );
    expect(refused.text).toContain('ter:InvalidStreamSetup');
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=width', '-of', 'csv=p=0', `rtsp://viewer:viewer-secret@127.0.0.1:${rtspPort}/stream1`],
      { timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('320');
    // A port another program holds: refused before anything changes.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, () => r()));
    const busy = (holder.address() as { port: number }).port;
    const inUse = await set(entry('RTSPS', true, busy));
    holder.close();
    expect(inUse.text).toContain('ter:PortAlreadyInUse');
    expect(h.host.state.get('rtspsEnabled')).toBe(false);
    // The HTTP port belongs to the config.
    expect((await set(entry('HTTP', true, 81))).text).toContain('ter:ServiceNotSupported');
    expect((await set(entry('RTSPS', true, rtspsPort))).status).toBe(200);
    await until(() => handshakes(rtspsPort), 10_000, 'RTSPS back');
  });

  /** Whether a TLS handshake with camd's certificate succeeds on `port`. */
  function handshakes(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  }
});

describe('WS-Discovery XAddrs with HTTPS', () => {
  it('carry the HTTPS address first and the plain HTTP one; only HTTPS when plain HTTP does not serve', async () => {
    for (const [plain, expected] of [
      [true, 'https://127.0.0.1:8443/onvif/device_service http://127.0.0.1:8080/onvif/device_service'],
      [false, 'https://127.0.0.1:8443/onvif/device_service'],
    ] as const) {
      const port = await freePort();
      const d = new DiscoveryService({
        port,
        address: '239.255.255.250',
        httpPort: () => 8080,
        httpsPort: () => 8443,
        plainHttp: () => plain,
        httpHost: '127.0.0.1',
        scopes: () => ['onvif://www.onvif.org/Profile/Streaming'],
        discoverable: () => true,
        log: createLogger({ level: 'silent' }),
      });
      await d.start();
      try {
        const socket = createSocket('udp4');
        const replies: string[] = [];
        socket.on('message', (m) => replies.push(m.toString()));
        await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
        socket.send(
          '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>urn:uuid:1</a:MessageID></s:Header><s:Body><d:Probe/></s:Body></s:Envelope>',
          port,
          '127.0.0.1',
        );
        await until(() => replies.length > 0, 5000, 'a ProbeMatch');
        socket.close();
        expect(replies[0]).toContain(`<d:XAddrs>${expected}</d:XAddrs>`);
      } finally {
        await d.stop();
      }
    }
  });
});
