import type { Caller, PluginContext, StreamSettings } from '@camd/core';
import { SoapFault, xmlEscape } from './soap.js';
import type { OnvifOptions } from './options.js';
import type { EventBroker } from './events.js';

export interface OpContext {
  ctx: PluginContext<OnvifOptions>;
  caller?: Caller;
  /** `http://host:port` (or `https://`) as the client addressed the daemon. */
  origin: string;
  host: string;
  params: Record<string, unknown>;
  events: EventBroker;
  /** The `:id` of a subscription manager's address, for the operations served there. */
  subscription?: string;
}

export type Op = (o: OpContext) => string | Promise<string>;

/** Operations that work without credentials (ONVIF Core 5.9.4, pre-auth). */
export const PRE_AUTH = new Set(['GetSystemDateAndTime', 'GetCapabilities', 'GetServices', 'GetServiceCapabilities', 'GetWsdlUrl', 'GetEndpointReference']);

export const fault = {
  invalidArg: (subcode: string, reason: string) => new SoapFault(400, 'env:Sender', `ter:InvalidArgVal/${subcode}`, reason),
  prohibited: (subcode: string, reason: string) => new SoapFault(400, 'env:Sender', `ter:OperationProhibited/${subcode}`, reason),
  notAuthorized: (reason: string) => new SoapFault(400, 'env:Sender', 'ter:NotAuthorized', reason),
};

/** Child elements as a list whatever the parser made of one or many (`<Scopes>` once or repeated). */
export function list<T = unknown>(v: unknown): T[] {
  return v === undefined ? [] : Array.isArray(v) ? (v as T[]) : [v as T];
}

/** Text content of an element (the parser gives a string, or `{ '#text' }` when it has attributes). */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && '#text' in v) return String((v as Record<string, unknown>)['#text']);
  return undefined;
}

export const profileToken = (s: StreamSettings) => `profile_${s.name}`;

/** The stream a profile, video source (configuration) or encoder configuration token names. */
export function streamOf(o: OpContext, token: unknown): StreamSettings {
  const t = text(token) ?? '';
  const s = o.ctx.streams.list().find((x) => [profileToken(x), `vs_${x.name}`, `vsc_${x.name}`, `vec_${x.name}`].includes(t));
  if (!s) throw fault.invalidArg('ter:NoProfile', `no profile or configuration "${t}"`);
  return s;
}

const H264_PROFILE = { baseline: 'Baseline', main: 'Main', high: 'High' } as const;

export function videoSourceConfigurationXml(s: StreamSettings, tag: string): string {
  return `<${tag} token="vsc_${s.name}"><tt:Name>${xmlEscape(s.name)}</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>vs_${s.name}</tt:SourceToken><tt:Bounds x="0" y="0" width="${s.width}" height="${s.height}"/></${tag}>`;
}

export function videoEncoderConfigurationXml(s: StreamSettings, tag: string): string {
  return (
    `<${tag} token="vec_${s.name}"><tt:Name>${xmlEscape(s.name)}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${s.width}</tt:Width><tt:Height>${s.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>${s.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${Math.round(s.bitrate / 1000)}</tt:BitrateLimit></tt:RateControl>` +
    `<tt:H264><tt:GovLength>${s.gop}</tt:GovLength><tt:H264Profile>${H264_PROFILE[s.profile]}</tt:H264Profile></tt:H264>` +
    `<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>` +
    `<tt:SessionTimeout>PT60S</tt:SessionTimeout></${tag}>`
  );
}

export function profileXml(s: StreamSettings, tag = 'trt:Profiles'): string {
  return (
    `<${tag} token="${profileToken(s)}" fixed="true"><tt:Name>${xmlEscape(s.name)}</tt:Name>` +
    videoSourceConfigurationXml(s, 'tt:VideoSourceConfiguration') +
    videoEncoderConfigurationXml(s, 'tt:VideoEncoderConfiguration') +
    `</${tag}>`
  );
}
