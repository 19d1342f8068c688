import { ADMIN_ONLY, MEDIA_READ, v, type StateKeyDefinition } from '@camd/core';
import type { OnvifOptions } from './options.js';

/** Scopes the device always has (ONVIF Core 7.3.2.2: Fixed); they cannot be removed. */
export function fixedScopes(o: OnvifOptions): string[] {
  return [
    'onvif://www.onvif.org/Profile/Streaming',
    'onvif://www.onvif.org/type/video_encoder',
    'onvif://www.onvif.org/type/Network_Video_Transmitter',
    `onvif://www.onvif.org/hardware/${encodeURIComponent(o.hardwareId)}`,
  ];
}

// URI characters only (RFC 3986: anything else is percent-encoded), so that a scope is one word of
// WS-Discovery's space-separated list; XML escapes what is left (`&`, `'`) where it is written.
const scope = v.string({
  maxLength: 256,
  pattern: /^[a-z][a-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/i,
  describe: 'a scope URI, e.g. onvif://www.onvif.org/location/hall (URI characters; others percent-encoded)',
});

export const onvifKeys = {
  onvifScopes: {
    key: 'onvifScopes',
    default: ['onvif://www.onvif.org/name/camd'],
    permissionRead: MEDIA_READ,
    permissionWrite: ADMIN_ONLY,
    validate: v.array(scope, { maxItems: 32 }),
    description: 'Configurable ONVIF scopes (name, location, …) announced by WS-Discovery; the fixed ones are added',
  },
  onvifDiscoveryMode: {
    key: 'onvifDiscoveryMode',
    default: 'Discoverable',
    permissionRead: MEDIA_READ,
    permissionWrite: ADMIN_ONLY,
    validate: v.oneOf(['Discoverable', 'NonDiscoverable'] as const),
    description: 'WS-Discovery: Discoverable answers probes and sends Hello/Bye; NonDiscoverable stays silent',
  },
} satisfies Record<string, StateKeyDefinition<any>>;

/** RFC 3986 prefix match of WS-Discovery (the default MatchBy): whole path segments. */
export function scopeMatches(probe: string, have: string): boolean {
  const p = probe.replace(/\/+$/, '');
  const h = have.replace(/\/+$/, '');
  return h.toLowerCase() === p.toLowerCase() || h.toLowerCase().startsWith(p.toLowerCase() + '/');
}
