import { connect } from 'node:net';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, TEST_USERS, testStream, type TestHost } from '@camd/core/testing';
import type { StreamSettings } from '@camd/core';
import onvif from './index.js';
import { DEVICE_OPS } from './device-ops.js';
import { MEDIA_OPS } from './media-ops.js';
import { MEDIA2_OPS } from './media2-ops.js';
import type { OpContext } from './operations.js';
import { envelope } from './soap.js';
import { soapRequest, values } from './onvif-test-utils.js';

/** A raw POST to the device service with a Host header of our choosing (fetch() would not send these). */
function rawSoap(port: number, host: string, body: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.on('data', (d) => (text += d.toString('utf8')));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
    s.on('connect', () =>
      s.write(
        `POST /onvif/device_service HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/soap+xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      ),
    );
  });
}

const GET_CAPABILITIES = soapRequest('<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>');
const INJECTION = 'x"/><inj>';

describe('ONVIF answers carry request values escaped, and a malformed Host is refused', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ media: false, plugins: [{ def: onvif, options: { discoveryPort: 0 } }], config: { streams: [testStream()] } });
  });
  afterAll(async () => h?.close());

  it(`anonymous GetCapabilities with Host: ${INJECTION} is answered 400, and nothing of it comes back`, async () => {
    const answer = await rawSoap(h.httpPort, INJECTION, GET_CAPABILITIES);
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect(answer).toContain('CAMD_ERR_BAD_HOST');
    expect(answer).not.toContain('<inj>');
    expect(answer).not.toContain('XAddr');
  });

  it('a well-formed Host (a name with a port) gives XAddrs built from it', async () => {
    const answer = await rawSoap(h.httpPort, 'cam-1.local:8080', GET_CAPABILITIES);
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    expect(values(answer, 'XAddr')).toEqual([
      'http://cam-1.local:8080/onvif/device_service',
      'http://cam-1.local:8080/onvif/event_service',
      'http://cam-1.local:8080/onvif/media_service',
    ]);
  });

  it('second line: every URI an operation builds from the Host is XML-escaped (well-formed, the value intact)', async () => {
    // Past core's check (a plugin may be served elsewhere): the operations escape on their own.
    const stream = { name: 'stream1', path: '/stream1' } as StreamSettings;
    const host = `a&b'c"<d>`;
    const o = {
      ctx: { streams: { list: () => [stream] }, state: { has: () => true, get: () => 8554 }, http: { port: 8080, tlsPort: 0 } },
      caller: { username: 'admin', permissions: ['Admin'] },
      origin: `http://${host}:8080`,
      host,
      params: { ProfileToken: 'profile_stream1' },
      events: { maxPullPoints: 16 },
    } as unknown as OpContext;
    const parser = new XMLParser({ removeNSPrefix: true, processEntities: true, htmlEntities: false });
    for (const [name, op, tag, expected] of [
      ['GetCapabilities', DEVICE_OPS.GetCapabilities!, 'XAddr', `${o.origin}/onvif/device_service`],
      ['GetServices', DEVICE_OPS.GetServices!, 'XAddr', `${o.origin}/onvif/device_service`],
      ['Media GetStreamUri', MEDIA_OPS.GetStreamUri!, 'Uri', `rtsp://${host}:8554/stream1`],
      ['Media GetSnapshotUri', MEDIA_OPS.GetSnapshotUri!, 'Uri', `${o.origin}/api/streams/stream1/snapshot.jpg`],
      ['Media2 GetStreamUri', MEDIA2_OPS.GetStreamUri!, 'Uri', `rtsp://${host}:8554/stream1`],
      ['Media2 GetSnapshotUri', MEDIA2_OPS.GetSnapshotUri!, 'Uri', `${o.origin}/api/streams/stream1/snapshot.jpg`],
    ] as const) {
      const xml = envelope(await op(o));
      expect(XMLValidator.validate(xml), name).toBe(true);
      const found: string[] = [];
      const walk = (node: unknown, key = ''): void => {
        if (typeof node === 'string' && key === tag) found.push(node);
        else if (Array.isArray(node)) for (const n of node) walk(n, key);
        else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k);
      };
      walk(parser.parse(xml));
      expect(found, name).toContain(expected);
    }
  });

  it("a scope that is no URI is refused; one with & and ' comes back intact from GetScopes", async () => {
    const put = (value: unknown) =>
      h.fetch('/api/state/onvifScopes', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
    expect((await put(['onvif://www.onvif.org/name/<inj>'])).status).toBe(400);
    expect((await put(['onvif://www.onvif.org/name/a b'])).status).toBe(400);
    expect((await put(["onvif://www.onvif.org/name/R&D's"])).status).toBe(200);
    const res = await fetch(`${h.baseUrl}/onvif/device_service`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: soapRequest('<tds:GetScopes/>', TEST_USERS.viewer),
    });
    const xml = await res.text();
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('onvif://www.onvif.org/name/R&amp;D&apos;s');
  });
});
