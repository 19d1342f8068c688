import { hostname } from 'node:os';
import { ADMIN_ONLY, CamdError, ErrorCodes, MEDIA_READ, type Permission, type UserView } from '@camd/core';
import { fault, list, text, type Op, type OpContext } from './operations.js';
import { NETWORK_OPS } from './network-ops.js';
import { PROTOCOL_OPS } from './protocol-ops.js';
import { EVENT_SERVICE_PATH, eventServiceCapabilities } from './event-ops.js';
import { MEDIA2_SERVICE_PATH, media2ServiceCapabilities } from './media2-ops.js';
import { fixedScopes } from './scopes.js';
import { require as requirePermission } from './security.js';
import { xmlEscape } from './soap.js';

const VERSION = '<tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>';

const dateTime = (d: Date) =>
  `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
  `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>`;

/** ONVIF user levels ↔ camd permissions (Administrator ↔ Admin, Operator ↔ Media_rw, User ↔ Media_r). */
const LEVELS: Record<string, Permission[]> = { Administrator: ['Admin'], Operator: ['Media_rw'], User: ['Media_r'] };
function levelOf(u: Pick<UserView, 'permissions'>): string {
  if (u.permissions.includes('Admin')) return 'Administrator';
  if (u.permissions.includes('Media_rw')) return 'Operator';
  if (u.permissions.includes('Media_r')) return 'User';
  return 'Anonymous';
}

const USERNAME = /^[A-Za-z0-9._@-]{1,32}$/;
const MIN_PASSWORD = 6;
const MAX_PASSWORD = 64;

interface UserArg {
  username: string;
  password?: string;
  level?: string;
}

/** The `User` elements of CreateUsers/SetUser, all checked before anything changes (all or nothing). */
function usersArg(o: OpContext, creating: boolean): UserArg[] {
  const users = list<Record<string, unknown>>(o.params.User).map((u) => ({
    username: text(u.Username) ?? '',
    password: text(u.Password),
    level: text(u.UserLevel),
  }));
  if (users.length === 0) throw fault.invalidArg('ter:UsernameMissing', 'no User given');
  const existing = new Map(o.ctx.users.list().map((u) => [u.username, u]));
  for (const u of users) {
    if (!USERNAME.test(u.username))
      throw fault.invalidArg(
        u.username.length > 32 ? 'ter:UsernameTooLong' : 'ter:UsernameTooShort',
        `username "${u.username.slice(0, 40)}" must be 1–32 of A-Z a-z 0-9 . _ @ -`,
      );
    if (u.level !== undefined && !(u.level in LEVELS))
      throw fault.invalidArg(
        u.level === 'Anonymous' ? 'ter:AnonymousNotAllowed' : 'ter:UserLevel',
        `user level "${u.level}" is not one of Administrator, Operator, User`,
      );
    if (u.password !== undefined && u.password.length > MAX_PASSWORD)
      throw fault.invalidArg('ter:PasswordTooLong', `passwords have at most ${MAX_PASSWORD} characters`);
    if (u.password !== undefined && u.password.length < MIN_PASSWORD)
      throw fault.invalidArg('ter:Password', `passwords have at least ${MIN_PASSWORD} characters`);
    const have = existing.get(u.username);
    if (creating) {
      if (have) throw fault.prohibited('ter:UsernameClash', `user "${u.username}" exists`);
      if (u.password === undefined || u.level === undefined) throw fault.invalidArg('ter:Password', 'CreateUsers needs a Password and a UserLevel');
    } else {
      if (!have) throw fault.invalidArg('ter:UsernameMissing', `no user "${u.username}"`);
      if (have.origin === 'config') throw fault.prohibited('ter:FixedUser', `user "${u.username}" comes from the config file and is changed there`);
    }
  }
  if (new Set(users.map((u) => u.username)).size !== users.length) throw fault.prohibited('ter:UsernameClash', 'a username appears twice');
  return users;
}

export const DEVICE_OPS: Record<string, Op> = {
  GetSystemDateAndTime: () =>
    `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>${dateTime(new Date())}</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,

  GetCapabilities: (o) =>
    `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
    `<tt:Device><tt:XAddr>${xmlEscape(o.origin)}/onvif/device_service</tt:XAddr><tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>` +
    `<tt:System><tt:DiscoveryResolve>true</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade><tt:SupportedVersions>${VERSION}</tt:SupportedVersions></tt:System>` +
    `<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>${o.ctx.http.tlsPort > 0}</tt:TLS1.2><tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security></tt:Device>` +
    `<tt:Events><tt:XAddr>${xmlEscape(o.origin)}${EVENT_SERVICE_PATH}</tt:XAddr><tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport><tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>` +
    `<tt:Media><tt:XAddr>${xmlEscape(o.origin)}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
    `</tds:Capabilities></tds:GetCapabilitiesResponse>`,

  GetServices: (o) => {
    const withCaps = text(o.params.IncludeCapability) === 'true';
    const service = (ns: string, path: string, caps: string) =>
      `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${xmlEscape(o.origin)}${path}</tds:XAddr>${withCaps ? `<tds:Capabilities>${caps}</tds:Capabilities>` : ''}<tds:Version>${VERSION}</tds:Version></tds:Service>`;
    return (
      `<tds:GetServicesResponse>` +
      service('http://www.onvif.org/ver10/device/wsdl', '/onvif/device_service', deviceServiceCapabilities(o)) +
      service('http://www.onvif.org/ver10/media/wsdl', '/onvif/media_service', mediaServiceCapabilities(o)) +
      service('http://www.onvif.org/ver20/media/wsdl', MEDIA2_SERVICE_PATH, media2ServiceCapabilities(o)) +
      service('http://www.onvif.org/ver10/events/wsdl', EVENT_SERVICE_PATH, eventServiceCapabilities(o)) +
      `</tds:GetServicesResponse>`
    );
  },

  GetServiceCapabilities: (o) => `<tds:GetServiceCapabilitiesResponse>${deviceServiceCapabilities(o)}</tds:GetServiceCapabilitiesResponse>`,

  GetWsdlUrl: () => `<tds:GetWsdlUrlResponse><tds:WsdlUrl>https://www.onvif.org/profiles/specifications/</tds:WsdlUrl></tds:GetWsdlUrlResponse>`,

  GetDeviceInformation: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    const opts = o.ctx.options;
    return `<tds:GetDeviceInformationResponse><tds:Manufacturer>${xmlEscape(opts.manufacturer)}</tds:Manufacturer><tds:Model>${xmlEscape(opts.model)}</tds:Model><tds:FirmwareVersion>0.1.0</tds:FirmwareVersion><tds:SerialNumber>${xmlEscape(hostname())}</tds:SerialNumber><tds:HardwareId>${xmlEscape(opts.hardwareId)}</tds:HardwareId></tds:GetDeviceInformationResponse>`;
  },

  GetScopes: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    const item = (def: string, s: string) => `<tds:Scopes><tt:ScopeDef>${def}</tt:ScopeDef><tt:ScopeItem>${xmlEscape(s)}</tt:ScopeItem></tds:Scopes>`;
    return `<tds:GetScopesResponse>${fixedScopes(o.ctx.options)
      .map((s) => item('Fixed', s))
      .join('')}${configurable(o)
      .map((s) => item('Configurable', s))
      .join('')}</tds:GetScopesResponse>`;
  },
  SetScopes: async (o) => {
    await setScopes(
      o,
      list(o.params.Scopes).map((s) => text(s) ?? ''),
    );
    return '<tds:SetScopesResponse/>';
  },
  AddScopes: async (o) => {
    const add = list(o.params.ScopeItem).map((s) => text(s) ?? '');
    await setScopes(o, [...configurable(o), ...add.filter((s) => !configurable(o).includes(s))]);
    return '<tds:AddScopesResponse/>';
  },
  RemoveScopes: async (o) => {
    const remove = list(o.params.ScopeItem).map((s) => text(s) ?? '');
    const fixed = fixedScopes(o.ctx.options);
    for (const s of remove) {
      if (fixed.includes(s)) throw fault.prohibited('ter:FixedScope', `"${s}" is a fixed scope`);
      if (!configurable(o).includes(s)) throw fault.invalidArg('ter:NoScope', `the device has no scope "${s}"`);
    }
    await setScopes(
      o,
      configurable(o).filter((s) => !remove.includes(s)),
    );
    return `<tds:RemoveScopesResponse>${remove.map((s) => `<tds:ScopeItem>${xmlEscape(s)}</tds:ScopeItem>`).join('')}</tds:RemoveScopesResponse>`;
  },

  GetDiscoveryMode: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    return `<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>${o.ctx.state.get<string>('onvifDiscoveryMode')}</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>`;
  },
  SetDiscoveryMode: async (o) => {
    await setState(o, 'onvifDiscoveryMode', text(o.params.DiscoveryMode));
    return '<tds:SetDiscoveryModeResponse/>';
  },

  GetUsers: (o) => {
    requirePermission(o.caller!, ADMIN_ONLY);
    return `<tds:GetUsersResponse>${o.ctx.users
      .list()
      .map((u) => `<tds:User><tt:Username>${xmlEscape(u.username)}</tt:Username><tt:UserLevel>${levelOf(u)}</tt:UserLevel></tds:User>`)
      .join('')}</tds:GetUsersResponse>`;
  },
  CreateUsers: async (o) => {
    requirePermission(o.caller!, ADMIN_ONLY);
    for (const u of usersArg(o, true)) await o.ctx.users.create(u.username, u.password!, LEVELS[u.level!]!);
    o.ctx.logger.info({ by: o.caller!.username }, 'onvif: users created');
    return '<tds:CreateUsersResponse/>';
  },
  SetUser: async (o) => {
    requirePermission(o.caller!, ADMIN_ONLY);
    for (const u of usersArg(o, false)) await o.ctx.users.update(u.username, { password: u.password, permissions: u.level ? LEVELS[u.level] : undefined });
    return '<tds:SetUserResponse/>';
  },
  DeleteUsers: async (o) => {
    requirePermission(o.caller!, ADMIN_ONLY);
    const names = list(o.params.Username).map((u) => text(u) ?? '');
    const existing = new Map(o.ctx.users.list().map((u) => [u.username, u]));
    for (const n of names) {
      const u = existing.get(n);
      if (!u) throw fault.invalidArg('ter:UsernameMissing', `no user "${n}"`);
      if (u.origin === 'config') throw fault.prohibited('ter:FixedUser', `user "${n}" comes from the config file and is removed there`);
      if (n === o.caller!.username) throw fault.prohibited('ter:FixedUser', 'a user cannot delete itself');
    }
    for (const n of names) await o.ctx.users.delete(n);
    return '<tds:DeleteUsersResponse/>';
  },

  ...NETWORK_OPS,
  ...PROTOCOL_OPS,

  SystemReboot: (o) => {
    requirePermission(o.caller!, ADMIN_ONLY);
    o.ctx.logger.warn({ by: o.caller!.username }, 'onvif: SystemReboot: restarting every stream pipeline');
    // After the answer has gone out: clients reconnect on their own, as after a real reboot.
    setTimeout(
      () =>
        void Promise.all(o.ctx.streams.list().map((s) => o.ctx.streams.restart(s.name))).catch((err) => o.ctx.logger.error({ err }, 'onvif: restart failed')),
      100,
    );
    return '<tds:SystemRebootResponse><tds:Message>Restarting the video pipelines</tds:Message></tds:SystemRebootResponse>';
  },
};

/** TLS1.2: HTTPS serves (TLS 1.2 and 1.3; ONVIF has no attribute for 1.3). */
function deviceServiceCapabilities(o: OpContext): string {
  return (
    '<tds:Capabilities><tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false" HostnameFromDHCP="false"/>' +
    `<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="${o.ctx.http.tlsPort > 0}" OnboardKeyGeneration="false" AccessPolicyConfig="false" DefaultAccessPolicy="false" Dot1X="false" RemoteUserHandling="false" X.509Token="false" SAMLToken="false" KerberosToken="false" UsernameToken="true" HttpDigest="true" RELToken="false" MaxUsers="32"/>` +
    '<tds:System DiscoveryResolve="true" DiscoveryBye="true" RemoteDiscovery="false" SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false" HttpFirmwareUpgrade="false" HttpSystemBackup="false" HttpSystemLogging="false" HttpSupportInformation="false"/></tds:Capabilities>'
  );
}

export function mediaServiceCapabilities(o: OpContext): string {
  return (
    `<trt:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" OSD="false"><trt:ProfileCapabilities MaximumNumberOfProfiles="${o.ctx.streams.list().length}"/>` +
    '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true" NonAggregateControl="false" NoRTSPStreaming="false"/></trt:Capabilities>'
  );
}

const configurable = (o: OpContext) => o.ctx.state.get<string[]>('onvifScopes');

async function setScopes(o: OpContext, scopes: string[]): Promise<void> {
  const fixed = fixedScopes(o.ctx.options);
  const clash = scopes.find((s) => fixed.includes(s));
  if (clash) throw fault.prohibited('ter:FixedScope', `"${clash}" is a fixed scope`);
  await setState(o, 'onvifScopes', scopes);
}

/** A state change on behalf of the caller: the store checks permission and value; errors become faults. */
export async function setState(o: OpContext, key: string, value: unknown): Promise<void> {
  try {
    await o.ctx.state.set(key, value, o.caller!);
  } catch (err) {
    if (err instanceof CamdError && err.code === ErrorCodes.STATE_FORBIDDEN) throw fault.notAuthorized(`${o.caller!.username} may not change ${key}`);
    if (err instanceof CamdError && err.code === ErrorCodes.STATE_INVALID) throw fault.invalidArg('ter:ConfigModify', err.message);
    throw err;
  }
}
