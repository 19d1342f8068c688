import { createHash, randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from '@camd/core';
import { xmlEscape, xmlParser } from './soap.js';
import { scopeMatches } from './scopes.js';
import { text as textOf } from './operations.js';

const WSD = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';
const WSA = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';
const TO_DISCOVERY = 'urn:schemas-xmlsoap-org:ws:2005:04:discovery';
const ANONYMOUS = `${WSA}/role/anonymous`;
/** Probes are a few hundred bytes; anything near the UDP limit is not one. */
const MAX_DATAGRAM = 16 * 1024;
const TYPES = 'dn:NetworkVideoTransmitter tds:Device';
const OUR_TYPES = new Set(['NetworkVideoTransmitter', 'Device']);
/**
 * A ProbeMatch is several times larger than a Probe, and UDP sources can be spoofed: without a limit the
 * device would amplify floods towards a victim (a known WS-Discovery abuse). Real probers send a few.
 */
const REPLIES_PER_SOURCE_PER_S = 10;
const REPLIES_PER_S = 200;

export interface DiscoveryOptions {
  port: number;
  address: string;
  interfaceAddress?: string;
  /** The daemon's HTTP port and bind address (for XAddrs: only addresses it really listens on). */
  httpPort: () => number;
  /** The HTTPS port (0: none): its XAddrs come first. */
  httpsPort?: () => number;
  /** Whether plain HTTP serves ONVIF (not when it only redirects to HTTPS, or is off). */
  plainHttp?: () => boolean;
  httpHost?: string;
  scopes: () => string[];
  discoverable: () => boolean;
  log: Logger;
}

/**
 * WS-Discovery 2005/04 target service as ONVIF Core 7 asks: Hello when it starts (and when it becomes
 * discoverable), Bye when it stops, ProbeMatches (unicast to the prober) for probes of
 * NetworkVideoTransmitter/Device or of no type whose scopes all match, ResolveMatches for its address.
 */
export class DiscoveryService {
  private socket?: Socket;
  /** Stable across restarts of the same daemon on the same host and port. */
  readonly endpoint: string;
  private readonly instanceId = Math.floor(Date.now() / 1000);
  private messageNumber = 0;
  dropped = 0;
  answered = 0;
  limited = 0;
  private window = { start: 0, total: 0, bySource: new Map<string, number>() };

  constructor(private readonly o: DiscoveryOptions) {
    const h = createHash('sha1').update(`camd:${hostname()}:${o.httpPort()}`).digest('hex');
    this.endpoint = `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('error', (err) => this.o.log.warn({ err }, 'onvif discovery: socket error'));
    socket.on('message', (msg, from) => this.onMessage(msg, from));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
    try {
      socket.addMembership(this.o.address, this.o.interfaceAddress);
      socket.setMulticastTTL(1);
      if (this.o.interfaceAddress) socket.setMulticastInterface(this.o.interfaceAddress);
    } catch (err) {
      // A host without a multicast route still answers unicast probes.
      this.o.log.warn(
        { err: (err as Error).message, group: this.o.address },
        'onvif discovery: cannot join the multicast group; answering unicast probes only',
      );
    }
    this.o.log.info({ port: this.port, endpoint: this.endpoint }, 'onvif discovery: listening');
    await this.hello();
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    if (this.o.discoverable())
      await this.send(this.message('Bye', `<d:Bye>${this.endpointXml()}</d:Bye>`, { to: TO_DISCOVERY }), this.o.port, this.o.address).catch(() => {});
    this.socket = undefined;
    await new Promise<void>((r) => socket.close(() => r()));
  }

  /** Multicast Hello (on start and when the device becomes discoverable again). */
  async hello(): Promise<void> {
    if (!this.socket || !this.o.discoverable()) return;
    const body = `<d:Hello>${this.endpointXml()}<d:Types>${TYPES}</d:Types><d:Scopes>${this.scopeList()}</d:Scopes><d:XAddrs>${this.xaddrs()}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:Hello>`;
    await this.send(this.message('Hello', body, { to: TO_DISCOVERY }), this.o.port, this.o.address).catch((err) =>
      this.o.log.debug({ err: (err as Error).message }, 'onvif discovery: Hello not sent'),
    );
  }

  private onMessage(msg: Buffer, from: RemoteInfo): void {
    if (!this.o.discoverable()) return;
    const drop = (why: string) => {
      this.dropped++;
      this.o.log.debug({ from: from.address, why }, 'onvif discovery: datagram dropped');
    };
    if (msg.length > MAX_DATAGRAM) return drop('too large');
    const xml = msg.toString('utf8');
    if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return drop('DTD');
    let env: Record<string, any>;
    try {
      env = (xmlParser.parse(xml, true) as Record<string, any>).Envelope;
    } catch {
      return drop('not XML');
    }
    const header = env?.Header as Record<string, unknown> | undefined;
    const body = env?.Body as Record<string, any> | undefined;
    const messageId = textOf(header?.MessageID);
    if (!body || !messageId) return drop('not a WS-Discovery message');
    if (body.Probe !== undefined) {
      const probe = (typeof body.Probe === 'object' ? body.Probe : {}) as Record<string, unknown>;
      if (!this.matchesTypes(textOf(probe.Types)) || !this.matchesScopes(textOf(probe.Scopes))) return;
      const match = `<d:ProbeMatches><d:ProbeMatch>${this.endpointXml()}<d:Types>${TYPES}</d:Types><d:Scopes>${this.scopeList()}</d:Scopes><d:XAddrs>${this.xaddrs(from.address)}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>`;
      void this.reply('ProbeMatches', match, messageId, from);
    } else if (body.Resolve !== undefined) {
      if (textOf(body.Resolve?.EndpointReference?.Address) !== this.endpoint) return;
      const match = `<d:ResolveMatches><d:ResolveMatch>${this.endpointXml()}<d:Types>${TYPES}</d:Types><d:Scopes>${this.scopeList()}</d:Scopes><d:XAddrs>${this.xaddrs(from.address)}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ResolveMatch></d:ResolveMatches>`;
      void this.reply('ResolveMatches', match, messageId, from);
    }
    // Hello/Bye of other devices and anything else: not for a target service.
  }

  private allowed(source: string, now = Date.now()): boolean {
    const w = this.window;
    if (now - w.start >= 1000) {
      w.start = now;
      w.total = 0;
      w.bySource.clear();
    }
    const n = (w.bySource.get(source) ?? 0) + 1;
    if (n > REPLIES_PER_SOURCE_PER_S || w.total >= REPLIES_PER_S) return false;
    w.bySource.set(source, n);
    w.total++;
    return true;
  }

  private async reply(action: string, body: string, relatesTo: string, to: RemoteInfo): Promise<void> {
    if (!this.allowed(to.address)) {
      if (this.limited++ % 100 === 0)
        this.o.log.warn({ from: to.address, limited: this.limited }, 'onvif discovery: too many probes; replies are rate-limited');
      return;
    }
    this.answered++;
    await this.send(this.message(action, body, { to: ANONYMOUS, relatesTo }), to.port, to.address).catch((err) =>
      this.o.log.debug({ err: (err as Error).message }, 'onvif discovery: reply not sent'),
    );
  }

  private matchesTypes(types: string | undefined): boolean {
    if (!types) return true;
    // QNames: compare local names (prefixes are the prober's own).
    return types.split(/\s+/).every((t) => OUR_TYPES.has(t.slice(t.indexOf(':') + 1)));
  }

  private matchesScopes(scopes: string | undefined): boolean {
    if (!scopes) return true;
    const ours = this.o.scopes();
    return scopes.split(/\s+/).every((s) => ours.some((have) => scopeMatches(s, have)));
  }

  private message(action: string, body: string, h: { to: string; relatesTo?: string }): string {
    return (
      `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="${WSA}" xmlns:d="${WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
      `<s:Header><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID>${h.relatesTo ? `<a:RelatesTo>${xmlEscape(h.relatesTo)}</a:RelatesTo>` : ''}<a:To>${h.to}</a:To>` +
      `<a:Action>${WSD}/${action}</a:Action><d:AppSequence InstanceId="${this.instanceId}" MessageNumber="${++this.messageNumber}"/></s:Header><s:Body>${body}</s:Body></s:Envelope>`
    );
  }

  private endpointXml(): string {
    return `<a:EndpointReference><a:Address>${this.endpoint}</a:Address></a:EndpointReference>`;
  }

  private scopeList(): string {
    return this.o.scopes().map(xmlEscape).join(' ');
  }

  /**
   * The device service URLs on the interface facing `peer` (every interface for multicast
   * announcements): HTTPS first when it serves, then plain HTTP when it serves ONVIF.
   */
  private xaddrs(peer?: string): string {
    const schemes: Array<[string, number]> = [];
    const tls = this.o.httpsPort?.() ?? 0;
    if (tls > 0) schemes.push(['https', tls]);
    if (this.o.plainHttp?.() ?? true) schemes.push(['http', this.o.httpPort()]);
    const bound = this.o.httpHost;
    let addrs: string[];
    // The config's bind address, escaped (below) as every value that goes into XML.
    if (bound && bound !== '0.0.0.0' && bound !== '::') addrs = [bound];
    else {
      const v4 = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4'));
      const facing = peer ? v4.find((a) => sameSubnet(a.address, peer, a.netmask)) : undefined;
      addrs = facing ? [facing.address] : v4.filter((a) => !a.internal).map((a) => a.address);
      if (addrs.length === 0) addrs = ['127.0.0.1'];
    }
    return xmlEscape(schemes.flatMap(([scheme, port]) => addrs.map((a) => `${scheme}://${a}:${port}/onvif/device_service`)).join(' '));
  }

  private send(xml: string, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.socket) return resolve();
      this.socket.send(xml, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function sameSubnet(a: string, b: string, mask: string): boolean {
  const n = (ip: string) => ip.split('.').reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(b)) return false;
  return (n(a) & n(mask)) >>> 0 === (n(b) & n(mask)) >>> 0;
}
