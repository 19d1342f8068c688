import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import onvif from './index.js';
import { soapRequest } from './onvif-test-utils.js';

const run = promisify(execFile);
const OnvifManager = createRequire(import.meta.url)('onvif-nvt') as { connect(address: string, port: number, user?: string, pass?: string): Promise<any> };

describe('plugin-onvif with onvif-nvt', () => {
  let h: TestHost;
  beforeAll(async () => {
    const port = await freePort();
    h = await createTestHost({
      plugins: [
        { def: rtsp, options: { port, host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { streams: [testStream()] },
    });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('connects with credentials: device information, profiles, a stream URI that plays and a snapshot of the stream size', async () => {
    const camera = await OnvifManager.connect('127.0.0.1', h.httpPort, 'viewer', 'viewer-secret');
    expect(camera.getInformation()).toMatchObject({ Manufacturer: 'camd' });
    const profile = camera.getDefaultProfile();
    expect(profile.$.token).toBe('profile_stream1');
    const uri: string = profile.StreamUri.Uri;
    expect(uri).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/stream1$/);
    const withCreds = uri.replace('rtsp://', 'rtsp://viewer:viewer-secret@');
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', withCreds],
      { timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('h264,320,240');
    const snap = await h.fetch(new URL(profile.SnapshotUri.Uri).pathname, { user: h.users.viewer });
    const jpeg = Buffer.from(await snap.arrayBuffer());
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    expect([jpeg.readUInt16BE(sof + 7), jpeg.readUInt16BE(sof + 5)]).toEqual([320, 240]);
  });

  it('refuses a wrong password, a stale Created and a replayed nonce, and answers pre-auth operations without credentials', async () => {
    // (onvif-nvt caches connected cameras per address, so the server is asked directly here.)
    const call = async (password: string, opts: { created?: string; nonce?: Buffer } = {}) => {
      const body = soapRequest('<GetProfiles xmlns="http://www.onvif.org/ver10/media/wsdl"/>', { username: 'viewer', password }, opts);
      const r = await fetch(`${h.baseUrl}/onvif/media_service`, { method: 'POST', headers: { 'content-type': 'application/soap+xml' }, body });
      return { status: r.status, text: await r.text(), challenge: r.headers.get('www-authenticate') };
    };
    expect((await call('viewer-secret')).status).toBe(200);
    const wrong = await call('wrong');
    // Wrong credentials: 401 with a challenge, as with HTTP Digest.
    expect(wrong.status).toBe(401);
    expect(wrong.challenge).toMatch(/^Digest realm=/);
    expect(wrong.text).toMatch(/ter:NotAuthorized/);
    expect((await call('viewer-secret', { created: new Date(Date.now() - 10 * 60_000).toISOString() })).text).toMatch(/Created is outside/);
    const nonce = randomBytes(16);
    expect((await call('viewer-secret', { nonce })).status).toBe(200);
    expect((await call('viewer-secret', { nonce })).text).toMatch(/nonce was already used/);
    const res = await fetch(`${h.baseUrl}/onvif/device_service`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<tt:UTCDateTime>/);
    const noCreds = await fetch(`${h.baseUrl}/onvif/media_service`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetProfiles xmlns="http://www.onvif.org/ver10/media/wsdl"/></s:Body></s:Envelope>',
    });
    expect(noCreds.status).toBe(401);
    expect(noCreds.headers.get('www-authenticate')).toMatch(/^Digest realm="camd", nonce="[^"]+", algorithm=MD5, qop="auth"$/);
    expect(await noCreds.text()).toMatch(/ter:NotAuthorized/);
  });

  it('refuses XXE, entity expansion, garbage and unknown operations with SOAP faults, and keeps answering', async () => {
    const post = (body: string) => fetch(`${h.baseUrl}/onvif/device_service`, { method: 'POST', headers: { 'content-type': 'application/soap+xml' }, body });
    const xxe = await post(
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetScopes>&e;</GetScopes></s:Body></s:Envelope>',
    );
    expect(xxe.status).toBe(400);
    const text = await xxe.text();
    expect(text).toMatch(/ter:WellFormed/);
    expect(text).not.toMatch(/root:/);
    expect((await post('<<<garbage')).status).toBe(400);
    const unknown = await post('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><FlyToTheMoon/></s:Body></s:Envelope>');
    expect(await unknown.text()).toMatch(/ter:ActionNotSupported/);
    expect((await post('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSystemDateAndTime/></s:Body></s:Envelope>')).status).toBe(
      200,
    );
  });
});
