import { MEDIA_READ, type Caller, type PluginContext, type StreamSettings } from '@camd/core';
import { SoapFault, xmlEscape } from './soap.js';
import { require as requirePermission } from './security.js';

export interface OpContext {
  ctx: PluginContext<Record<string, unknown>>;
  caller?: Caller;
  /** `http://host:port` as the client addressed the daemon. */
  origin: string;
  host: string;
  params: Record<string, unknown>;
}

type Op = (o: OpContext) => string | Promise<string>;

/** Operations that work without credentials (ONVIF Core: pre-auth). */
export const PRE_AUTH = new Set(['GetSystemDateAndTime', 'GetCapabilities', 'GetServices', 'GetServiceCapabilities', 'GetWsdlUrl']);

const dateTime = (d: Date) =>
  `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
  `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>`;

const profileToken = (s: StreamSettings) => `profile_${s.name}`;

function streamOf(o: OpContext, token: unknown): StreamSettings {
  const s = o.ctx.streams.list().find((x) => profileToken(x) === token);
  if (!s) throw new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal', `no profile "${String(token)}"`);
  return s;
}

function profileXml(s: StreamSettings, tag = 'trt:Profiles'): string {
  return (
    `<${tag} token="${profileToken(s)}" fixed="true"><tt:Name>${xmlEscape(s.name)}</tt:Name>` +
    `<tt:VideoSourceConfiguration token="vsc_${s.name}"><tt:Name>${xmlEscape(s.name)}</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>vs_${s.name}</tt:SourceToken><tt:Bounds x="0" y="0" width="${s.width}" height="${s.height}"/></tt:VideoSourceConfiguration>` +
    `<tt:VideoEncoderConfiguration token="vec_${s.name}"><tt:Name>${xmlEscape(s.name)}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${s.width}</tt:Width><tt:Height>${s.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>${s.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${Math.round(s.bitrate / 1000)}</tt:BitrateLimit></tt:RateControl>` +
    `<tt:H264><tt:GovLength>${s.gop}</tt:GovLength><tt:H264Profile>${s.profile === 'baseline' ? 'Baseline' : s.profile === 'main' ? 'Main' : 'High'}</tt:H264Profile></tt:H264>` +
    `<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>` +
    `<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></${tag}>`
  );
}

export const DEVICE_OPS: Record<string, Op> = {
  GetSystemDateAndTime: () => {
    const now = new Date();
    return `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>${dateTime(now)}</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`;
  },
  GetCapabilities: (o) =>
    `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
    `<tt:Device><tt:XAddr>${o.origin}/onvif/device_service</tt:XAddr><tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>false</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System><tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2><tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security></tt:Device>` +
    `<tt:Media><tt:XAddr>${o.origin}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
    `</tds:Capabilities></tds:GetCapabilitiesResponse>`,
  GetServices: (o) =>
    `<tds:GetServicesResponse>` +
    `<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>${o.origin}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
    `<tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>${o.origin}/onvif/media_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
    `</tds:GetServicesResponse>`,
  GetDeviceInformation: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    return `<tds:GetDeviceInformationResponse><tds:Manufacturer>camd</tds:Manufacturer><tds:Model>camd</tds:Model><tds:FirmwareVersion>0.1.0</tds:FirmwareVersion><tds:SerialNumber>${xmlEscape(o.host)}</tds:SerialNumber><tds:HardwareId>camd</tds:HardwareId></tds:GetDeviceInformationResponse>`;
  },
  GetScopes: () =>
    `<tds:GetScopesResponse>${['onvif://www.onvif.org/Profile/Streaming', 'onvif://www.onvif.org/type/video_encoder', 'onvif://www.onvif.org/name/camd', 'onvif://www.onvif.org/hardware/camd']
      .map((s) => `<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>${s}</tt:ScopeItem></tds:Scopes>`)
      .join('')}</tds:GetScopesResponse>`,
};

export const MEDIA_OPS: Record<string, Op> = {
  GetProfiles: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    return `<trt:GetProfilesResponse>${o.ctx.streams.list().map((s) => profileXml(s)).join('')}</trt:GetProfilesResponse>`;
  },
  GetProfile: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    return `<trt:GetProfileResponse>${profileXml(streamOf(o, o.params.ProfileToken), 'trt:Profile')}</trt:GetProfileResponse>`;
  },
  GetStreamUri: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    const s = streamOf(o, o.params.ProfileToken);
    if (!o.ctx.state.has('rtspPort')) throw new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal', 'RTSP streaming is not installed on this device');
    const port = o.ctx.state.get<number>('rtspPort');
    return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://${o.host}:${port}${s.path}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`;
  },
  GetSnapshotUri: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    const s = streamOf(o, o.params.ProfileToken);
    return `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${o.origin}/api/streams/${s.name}/snapshot.jpg</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>`;
  },
};
