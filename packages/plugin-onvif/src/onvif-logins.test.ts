import { createRequire } from 'node:module';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, relayFrom, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import onvif from './index.js';
import { soapRequest } from './onvif-test-utils.js';

const OnvifManager = createRequire(import.meta.url)('onvif-nvt') as { connect(address: string, port: number, user?: string, pass?: string): Promise<any> };
const GET_PROFILES = '<GetProfiles xmlns="http://www.onvif.org/ver10/media/wsdl"/>';
const DATE_AND_TIME = '<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>';

/** POSTs a SOAP body from `localAddress` (127.0.0.1: the attacker; 127.0.0.2: the legitimate client). */
function post(port: number, service: string, body: string, localAddress = '127.0.0.1'): Promise<{ status: number; text: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/onvif/${service}`, method: 'POST', localAddress, headers: { 'content-type': 'application/soap+xml' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text, retryAfter: res.headers['retry-after'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('ONVIF logins: replay and brute force', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({
      media: false,
      plugins: [
        { def: rtsp, options: { port: await freePort(), host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { streams: [testStream()], auth: { maxFailures: 4, backoffAfter: 100 } },
    });
  });
  afterAll(async () => h?.close());

  it('a captured UsernameToken does not replay with its Nonce spelt differently (a space, no padding)', async () => {
    const token = soapRequest(GET_PROFILES, h.users.viewer);
    expect((await post(h.httpPort, 'media_service', token)).status).toBe(200);
    const nonce = /<Nonce>([^<]+)<\/Nonce>/.exec(token)![1]!;
    for (const spelt of [`${nonce.slice(0, 8)} ${nonce.slice(8)}`, nonce.replace(/=+$/, ''), `${nonce.slice(0, 4)}\n${nonce.slice(4)}`]) {
      const replay = await post(h.httpPort, 'media_service', token.replace(nonce, spelt));
      expect(replay.status).toBe(401);
      expect(replay.text).toMatch(/nonce was already used/);
    }
    expect(h.host.users.guard.stats().failures).toBe(0);
  });

  it('onvif-nvt with a wrong, then the right password (from 127.0.0.2)', async () => {
    const relay = await relayFrom('127.0.0.2', h.httpPort);
    try {
      const quiet = console.error;
      console.error = () => undefined; // onvif-nvt prints the refusal itself
      await expect(OnvifManager.connect('127.0.0.1', relay.port, 'operator', 'wrong')).rejects.toThrow();
      console.error = quiet;
      expect(h.host.users.guard.stats().failures).toBeGreaterThanOrEqual(1);
      const camera = await OnvifManager.connect('127.0.0.1', relay.port, 'operator', 'operator-secret');
      expect(camera.getInformation()).toMatchObject({ Manufacturer: 'camd' });
    } finally {
      await relay.close();
    }
  });

  it('a guessing address gets 429 faults with Retry-After, nothing checked; the clock still answers; the user logs in from 127.0.0.2', async () => {
    const guard = h.host.users.guard;
    for (let i = 0; i < 4; i++) {
      const r = await post(h.httpPort, 'media_service', soapRequest(GET_PROFILES, { username: 'viewer', password: `guess-${i}` }));
      expect(r.status).toBe(401);
    }
    const checks = guard.stats().checks;
    const locked = await post(h.httpPort, 'media_service', soapRequest(GET_PROFILES, h.users.viewer));
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(800);
    expect(locked.text).toMatch(/<env:Value>env:Sender<\/env:Value><env:Subcode><env:Value>ter:NotAuthorized/);
    expect(locked.text).toMatch(/locked out for \d+ s/);
    expect(guard.stats().checks).toBe(checks);
    // Without credentials: the same 429 for an operation that needs them, and the clock for a pre-auth one.
    expect((await post(h.httpPort, 'media_service', soapRequest(GET_PROFILES))).status).toBe(429);
    expect((await post(h.httpPort, 'device_service', soapRequest(DATE_AND_TIME))).status).toBe(200);
    // The same user from another address.
    const legit = await post(h.httpPort, 'media_service', soapRequest(GET_PROFILES, h.users.viewer), '127.0.0.2');
    expect(legit.status).toBe(200);
    expect(legit.text).toContain('profile_stream1');
    expect(h.recentLog()).not.toMatch(/guess-|viewer-secret/);
  });
});
