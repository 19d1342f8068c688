import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, testStream, type TestHost } from '@camd/core/testing';
import onvif from './index.js';

const GROUP = '239.255.255.250';
const PORT = 3702;
const require = createRequire(import.meta.url);

/**
 * Multicast needs a route. A machine with a LAN interface has one (the default route) and loops group
 * traffic back to local members; a loopback-only sandbox gets `lo` as multicast interface for the test
 * (root only; DESIGN.md) and loses it again afterwards.
 */
function ensureMulticastRoute(): () => void {
  try {
    execFileSync('ip', ['route', 'get', GROUP], { stdio: 'pipe' });
    return () => {};
  } catch {
    execFileSync('ip', ['link', 'set', 'lo', 'multicast', 'on']);
    execFileSync('ip', ['route', 'add', '239.0.0.0/8', 'dev', 'lo']);
    return () => execFileSync('ip', ['route', 'del', '239.0.0.0/8', 'dev', 'lo']);
  }
}

const probe = (types = 'dn:NetworkVideoTransmitter', scopes = '', id = `urn:uuid:${randomUUID()}`) =>
  `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
  `<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>${id}</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>` +
  `<s:Body><d:Probe>${types ? `<d:Types>${types}</d:Types>` : ''}${scopes ? `<d:Scopes>${scopes}</d:Scopes>` : ''}</d:Probe></s:Body></s:Envelope>`;

/** Sends one datagram to the device and collects what comes back within `ms`. */
async function exchange(datagram: string | Buffer, ms = 700): Promise<string[]> {
  const socket = createSocket('udp4');
  const replies: string[] = [];
  socket.on('message', (m) => replies.push(m.toString()));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  socket.send(datagram, PORT, '127.0.0.1');
  await new Promise((r) => setTimeout(r, ms));
  socket.close();
  return replies;
}

describe('plugin-onvif WS-Discovery', () => {
  let h: TestHost;
  let undoRoute = () => {};
  let listener: Socket;
  const multicast: string[] = [];

  beforeAll(async () => {
    undoRoute = ensureMulticastRoute();
    // A second member of the group on the discovery port: it hears Hello and Bye like an NVR would.
    listener = createSocket({ type: 'udp4', reuseAddr: true });
    listener.on('message', (m) => multicast.push(m.toString()));
    await new Promise<void>((r) => listener.bind(PORT, () => r()));
    listener.addMembership(GROUP);
    h = await createTestHost({ plugins: [{ def: onvif, options: { discoveryPort: PORT } }], config: { streams: [testStream()] }, media: false });
  });
  afterAll(async () => {
    await h?.close();
    listener?.close();
    undoRoute();
  });

  it('announces itself with Hello on start', async () => {
    await expect.poll(() => multicast.filter((m) => m.includes('/discovery/Hello')).length, { timeout: 5000 }).toBeGreaterThan(0);
    const hello = multicast.find((m) => m.includes('/discovery/Hello'))!;
    expect(hello).toMatch(/<d:Types>dn:NetworkVideoTransmitter tds:Device<\/d:Types>/);
    expect(hello).toContain(`:${h.httpPort}/onvif/device_service`);
  });

  it("onvif-nvt's discovery (multicast probes) finds the device with its XAddrs and scopes", async () => {
    const manager = require('onvif-nvt') as { add(name: string): void; discovery: { startProbe(): Promise<any[]>; _DISCOVERY_WAIT: number } };
    manager.add('discovery');
    manager.discovery._DISCOVERY_WAIT = 1500;
    const devices = await manager.discovery.startProbe();
    const camd = devices.find((d) => d.xaddrs.some((x: string) => x.endsWith(`:${h.httpPort}/onvif/device_service`)));
    expect(camd).toBeDefined();
    expect(camd.urn).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(camd.name).toBe('camd');
    expect(camd.scopes).toEqual(expect.arrayContaining(['onvif://www.onvif.org/Profile/Streaming', 'onvif://www.onvif.org/hardware/camd']));
    // The XAddr it would use answers SOAP.
    const res = await fetch(camd.xaddrs[0], {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>',
    });
    expect(res.status).toBe(200);
  });

  it('unicast probes: answers its types and scopes, not other types or scopes; Resolve by address', async () => {
    const id = `urn:uuid:${randomUUID()}`;
    const [match] = await exchange(probe('dn:NetworkVideoTransmitter', '', id));
    expect(match).toMatch(/\/discovery\/ProbeMatches<\/a:Action>/);
    expect(match).toContain(`<a:RelatesTo>${id}</a:RelatesTo>`);
    expect(match).toContain(`<d:XAddrs>http://127.0.0.1:${h.httpPort}/onvif/device_service</d:XAddrs>`);
    expect(await exchange(probe('tds:Device'))).toHaveLength(1);
    expect(await exchange(probe(''))).toHaveLength(1);
    expect(await exchange(probe('dn:NetworkVideoDisplay'))).toHaveLength(0);
    expect(await exchange(probe('', 'onvif://www.onvif.org/Profile'))).toHaveLength(1);
    expect(await exchange(probe('', 'onvif://www.onvif.org/location/mars'))).toHaveLength(0);
    const endpoint = /<a:Address>(urn:uuid:[^<]+)<\/a:Address>/.exec(match!)![1]!;
    const resolve = (address: string) =>
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Resolve</a:Action><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID></s:Header><s:Body><d:Resolve><a:EndpointReference><a:Address>${address}</a:Address></a:EndpointReference></d:Resolve></s:Body></s:Envelope>`;
    expect((await exchange(resolve(endpoint)))[0]).toMatch(/ResolveMatches/);
    expect(await exchange(resolve('urn:uuid:00000000-0000-0000-0000-000000000000'))).toHaveLength(0);
  });

  it("escapes what goes into ProbeMatches: a scope with & and ' comes back intact in well-formed XML", async () => {
    const scope = "onvif://www.onvif.org/location/R&D's";
    const setScopes = (value: string[]) =>
      h.fetch('/api/state/onvifScopes', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
    expect((await setScopes(['onvif://www.onvif.org/name/camd', scope])).status).toBe(200);
    try {
      const [match] = await exchange(probe());
      expect(XMLValidator.validate(match!)).toBe(true);
      const doc = new XMLParser({ removeNSPrefix: true, processEntities: true }).parse(match!) as {
        Envelope: { Body: { ProbeMatches: { ProbeMatch: { Scopes: string } } } };
      };
      expect(doc.Envelope.Body.ProbeMatches.ProbeMatch.Scopes.split(' ')).toContain(scope);
      // A probe for it (as a client writes it, escaped) matches.
      expect(await exchange(probe('', 'onvif://www.onvif.org/location/R&amp;D&apos;s'))).toHaveLength(1);
    } finally {
      await setScopes(['onvif://www.onvif.org/name/camd']);
    }
  });

  it('drops garbage, DTDs and oversized datagrams and keeps answering', async () => {
    for (const junk of [
      Buffer.from([0, 1, 2, 255]),
      '<<<',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><s:Envelope><s:Body><d:Probe>&e;</d:Probe></s:Body></s:Envelope>',
      'x'.repeat(60_000),
      '<s:Envelope><s:Body><d:Probe/></s:Body></s:Envelope>',
    ]) {
      expect(await exchange(junk, 200)).toHaveLength(0);
    }
    expect(await exchange(probe())).toHaveLength(1);
  });

  it('limits replies to a flood of probes (no amplification of spoofed traffic)', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh one-second window
    const socket = createSocket('udp4');
    let replies = 0;
    socket.on('message', () => replies++);
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < 100; i++) socket.send(probe(), PORT, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
    expect(replies).toBeGreaterThan(0);
    expect(replies).toBeLessThanOrEqual(10);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await exchange(probe())).toHaveLength(1);
  });

  it('NonDiscoverable: no answers; Discoverable again: Hello and answers', async () => {
    const set = (value: string) =>
      h.fetch('/api/state/onvifDiscoveryMode', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
    expect((await set('NonDiscoverable')).status).toBe(200);
    expect(await exchange(probe())).toHaveLength(0);
    const hellos = multicast.filter((m) => m.includes('/discovery/Hello')).length;
    await set('Discoverable');
    await expect.poll(() => multicast.filter((m) => m.includes('/discovery/Hello')).length, { timeout: 5000 }).toBe(hellos + 1);
    expect(await exchange(probe())).toHaveLength(1);
  });

  it('says Bye when it stops', async () => {
    await h.close();
    await expect.poll(() => multicast.filter((m) => m.includes('/discovery/Bye')).length, { timeout: 5000 }).toBe(1);
    h = undefined as unknown as TestHost;
  });
});
