import { createServer } from 'node:net';
import { ADMIN_ONLY, MEDIA_READ, tlsSettings, type PluginContext } from '@camd/core';
import { list, text, type Op, type OpContext } from './operations.js';
import type { OnvifOptions } from './options.js';
import { require as requirePermission } from './security.js';
import { SoapFault } from './soap.js';
import { setState } from './device-ops.js';

/** camd's namespace for what ONVIF's NetworkProtocolType (HTTP, HTTPS, RTSP) has no name for: RTSPS. */
const CAMD_NS = 'urn:camd:onvif';

/** The RTSPS port when RTSPS serves (the daemon has TLS, plugin-rtsp is on and RTSPS is not turned off), else undefined. */
export function rtspsPort(ctx: PluginContext<OnvifOptions>): number | undefined {
  const s = ctx.state;
  if (!ctx.tls || !s.has('rtspsPort') || tlsSettings(ctx.config).rtspsPort === undefined) return undefined;
  if (!s.get<boolean>('rtspEnabled') || !s.get<boolean>('rtspsEnabled')) return undefined;
  return s.get<number>('rtspsPort');
}

const protocol = (name: string, enabled: boolean, port: number, extension = '') =>
  `<tds:NetworkProtocols><tt:Name>${name}</tt:Name><tt:Enabled>${enabled}</tt:Enabled><tt:Port>${port}</tt:Port>${extension}</tds:NetworkProtocols>`;

/**
 * GetNetworkProtocols and SetNetworkProtocols (ONVIF Core 8.2.14–15). HTTP and HTTPS are the
 * daemon's own ports, set in its config (a SOAP request cannot move the server it arrives on); RTSP
 * and RTSPS are plugin-rtsp's live settings. RTSPS is not one of the schema's NetworkProtocolType
 * values (strict clients refuse a reply with another name), so it travels in the RTSP entry's
 * Extension as `camd:RTSPS` (Enabled, Port), and SetNetworkProtocols takes it there or named `RTSPS`.
 */
export const PROTOCOL_OPS: Record<string, Op> = {
  GetNetworkProtocols: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    const { ctx } = o;
    const http = protocol('HTTP', ctx.http.port > 0 && ctx.http.plain !== 'off', ctx.http.port);
    const https = protocol('HTTPS', ctx.http.tlsPort > 0, ctx.http.tlsPort || (tlsSettings(ctx.config).httpsPort ?? 443));
    const s = ctx.state;
    if (!s.has('rtspPort')) return `<tds:GetNetworkProtocolsResponse>${http}${https}</tds:GetNetworkProtocolsResponse>`;
    const secure = s.has('rtspsPort')
      ? `<tt:Extension><camd:RTSPS xmlns:camd="${CAMD_NS}"><camd:Enabled>${rtspsPort(ctx) !== undefined}</camd:Enabled><camd:Port>${s.get<number>('rtspsPort')}</camd:Port></camd:RTSPS></tt:Extension>`
      : '';
    const rtsp = protocol('RTSP', s.get<boolean>('rtspEnabled'), s.get<number>('rtspPort'), secure);
    return `<tds:GetNetworkProtocolsResponse>${http}${https}${rtsp}</tds:GetNetworkProtocolsResponse>`;
  },

  SetNetworkProtocols: async (o) => {
    requirePermission(o.caller!, ADMIN_ONLY);
    const changes: Array<[string, unknown]> = [];
    const ports: number[] = [];
    for (const p of list<Record<string, unknown>>(o.params.NetworkProtocols)) {
      const name = text(p.Name);
      const enabled = text(p.Enabled) === undefined ? undefined : text(p.Enabled) === 'true';
      const port = portOf(list(p.Port)[0]);
      if (name === 'HTTP' || name === 'HTTPS') fixedByConfig(o, name, enabled, port);
      else if (name === 'RTSP') {
        rtspInstalled(o);
        if (enabled !== undefined) changes.push(['rtspEnabled', enabled]);
        if (port !== undefined && port !== o.ctx.state.get<number>('rtspPort')) changes.push(['rtspPort', port]), ports.push(port);
        const ext = ((p.Extension as Record<string, unknown> | undefined)?.RTSPS ?? undefined) as Record<string, unknown> | undefined;
        if (ext) secure(o, text(ext.Enabled) === undefined ? undefined : text(ext.Enabled) === 'true', portOf(ext.Port), changes, ports);
      } else if (name === 'RTSPS') secure(o, enabled, port, changes, ports);
      else
        throw new SoapFault(
          400,
          'env:Sender',
          'ter:InvalidArgVal/ter:ServiceNotSupported',
          `network protocol ${name ?? '(none)'} is not one of HTTP, HTTPS, RTSP (RTSPS)`,
        );
    }
    for (const port of ports) await portFree(port);
    for (const [key, value] of changes) await setState(o, key, value);
    o.ctx.logger.info({ by: o.caller!.username, changes: Object.fromEntries(changes) }, 'onvif: SetNetworkProtocols');
    return '<tds:SetNetworkProtocolsResponse/>';
  },
};

function portOf(v: unknown): number | undefined {
  const t = text(v);
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal/ter:InvalidArgValue', `port ${t} is not 1..65535`);
  return n;
}

function rtspInstalled(o: OpContext): void {
  if (!o.ctx.state.has('rtspPort')) throw new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal/ter:ServiceNotSupported', 'RTSP is not installed on this device');
}

function secure(o: OpContext, enabled: boolean | undefined, port: number | undefined, changes: Array<[string, unknown]>, ports: number[]): void {
  rtspInstalled(o);
  if (!o.ctx.state.has('rtspsPort')) throw new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal/ter:ServiceNotSupported', 'this RTSP server has no RTSPS');
  if (enabled && (!o.ctx.tls || tlsSettings(o.ctx.config).rtspsPort === undefined))
    throw new SoapFault(500, 'env:Receiver', 'ter:ActionNotSupported/ter:EnablingTlsFailed', 'RTSPS is off in the config (rtsp.tls, http.tls)');
  if (enabled !== undefined) changes.push(['rtspsEnabled', enabled]);
  if (port !== undefined && port !== o.ctx.state.get<number>('rtspsPort')) changes.push(['rtspsPort', port]), ports.push(port);
}

/** HTTP and HTTPS: a request that keeps them as they are succeeds; one that would change them is refused. */
function fixedByConfig(o: OpContext, name: 'HTTP' | 'HTTPS', enabled: boolean | undefined, port: number | undefined): void {
  const http = o.ctx.http;
  const [on, current] = name === 'HTTP' ? [http.port > 0 && http.plain !== 'off', http.port] : [http.tlsPort > 0, http.tlsPort];
  if (name === 'HTTPS' && enabled && !on)
    throw new SoapFault(500, 'env:Receiver', 'ter:ActionNotSupported/ter:EnablingTlsFailed', 'HTTPS is off in the config (http.tls: false)');
  if ((enabled !== undefined && enabled !== on) || (port !== undefined && port !== current))
    throw new SoapFault(
      400,
      'env:Sender',
      'ter:InvalidArgVal/ter:ServiceNotSupported',
      `${name} is set in the daemon's config (${name === 'HTTP' ? 'http.port, http.plain' : 'http.tls'}), not over ONVIF`,
    );
}

/** ter:PortAlreadyInUse before anything changes: a port another program holds would leave the protocol down. */
async function portFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', () => reject(new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal/ter:PortAlreadyInUse', `port ${port} is in use`)));
    probe.listen(port, () => probe.close(() => resolve()));
  });
}
