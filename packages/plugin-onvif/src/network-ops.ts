import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { MEDIA_READ } from '@camd/core';
import type { Op, OpContext } from './operations.js';
import { require as requirePermission } from './security.js';
import { xmlEscape } from './soap.js';

/**
 * The Device service's network reads. The daemon does not own the host's network configuration, so
 * these report it (interfaces, DNS, gateway) and the ports camd serves; NVRs read them while adding a
 * camera (GetNetworkProtocols tells them the RTSP port) and some refuse a device that faults them.
 */
const read = (o: OpContext) => requirePermission(o.caller!, MEDIA_READ);

export const NETWORK_OPS: Record<string, Op> = {
  GetHostname: (o) => {
    read(o);
    return `<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP><tt:Name>${xmlEscape(hostname())}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>`;
  },

  GetNetworkInterfaces: (o) => {
    read(o);
    const out = Object.entries(networkInterfaces()).flatMap(([name, addrs]) => {
      const v4 = (addrs ?? []).filter((a) => a.family === 'IPv4');
      if (v4.length === 0) return [];
      const manual = v4
        .map((a) => `<tt:Manual><tt:Address>${a.address}</tt:Address><tt:PrefixLength>${prefixLength(a.netmask)}</tt:PrefixLength></tt:Manual>`)
        .join('');
      return [
        `<tds:NetworkInterfaces token="${xmlEscape(name)}"><tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>${xmlEscape(name)}</tt:Name><tt:HwAddress>${v4[0]!.mac}</tt:HwAddress></tt:Info>` +
          `<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>${manual}<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4></tds:NetworkInterfaces>`,
      ];
    });
    return `<tds:GetNetworkInterfacesResponse>${out.join('')}</tds:GetNetworkInterfacesResponse>`;
  },

  GetDNS: (o) => {
    read(o);
    const { servers, search } = resolvConf();
    const manual = servers.map((a) =>
      a.includes(':')
        ? `<tt:DNSManual><tt:Type>IPv6</tt:Type><tt:IPv6Address>${xmlEscape(a)}</tt:IPv6Address></tt:DNSManual>`
        : `<tt:DNSManual><tt:Type>IPv4</tt:Type><tt:IPv4Address>${xmlEscape(a)}</tt:IPv4Address></tt:DNSManual>`,
    );
    return `<tds:GetDNSResponse><tds:DNSInformation><tt:FromDHCP>false</tt:FromDHCP>${search.map((d) => `<tt:SearchDomain>${xmlEscape(d)}</tt:SearchDomain>`).join('')}${manual.join('')}</tds:DNSInformation></tds:GetDNSResponse>`;
  },

  /** The host keeps its own time (GetSystemDateAndTime says NTP); camd configures no NTP servers. */
  GetNTP: (o) => {
    read(o);
    return '<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP></tds:NTPInformation></tds:GetNTPResponse>';
  },

  GetNetworkDefaultGateway: (o) => {
    read(o);
    return `<tds:GetNetworkDefaultGatewayResponse><tds:NetworkGateway>${defaultGateways()
      .map((a) => `<tt:IPv4Address>${a}</tt:IPv4Address>`)
      .join('')}</tds:NetworkGateway></tds:GetNetworkDefaultGatewayResponse>`;
  },
};

function prefixLength(mask: string): number {
  return mask.split('.').reduce((n, part) => n + (Number(part) >>> 0).toString(2).replace(/0/g, '').length, 0);
}

/** Name servers and search domains of /etc/resolv.conf (none when it cannot be read). */
export function resolvConf(text = readOrEmpty('/etc/resolv.conf')): { servers: string[]; search: string[] } {
  const servers: string[] = [];
  const search: string[] = [];
  for (const line of text.split('\n')) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === 'nameserver' && rest[0] && /^[0-9a-fA-F.:]+$/.test(rest[0])) servers.push(rest[0]);
    if ((word === 'search' || word === 'domain') && rest.length > 0) search.push(...rest.filter((d) => !search.includes(d)));
  }
  return { servers, search };
}

/** IPv4 default gateways from the kernel's routing table (/proc/net/route: little-endian hex). */
export function defaultGateways(text = readOrEmpty('/proc/net/route')): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const [, destination, gateway] = line.trim().split(/\s+/);
    if (destination !== '00000000' || !gateway || !/^[0-9A-Fa-f]{8}$/.test(gateway) || gateway === '00000000') continue;
    const n = Number.parseInt(gateway, 16);
    out.add([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'));
  }
  return [...out];
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
