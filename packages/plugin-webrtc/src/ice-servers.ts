import { ValidationError, type Validator } from '@camd/core';
import type { IceServer } from './viewer.js';

const URL_RE = /^(stun|stuns|turn|turns):[^\s]{1,253}$/;

/** `webrtcIceServers`: the browser's RTCIceServer list (`urls` a string or a list of stun:/turn: URLs). */
export const iceServersValidator: Validator<IceServer[]> = {
  describe: 'array of {urls: string | string[], username?: string, credential?: string} with stun:/turn: URLs',
  schema: {
    type: 'array',
    maxItems: 8,
    items: {
      type: 'object',
      required: ['urls'],
      additionalProperties: false,
      properties: {
        urls: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        username: { type: 'string' },
        credential: { type: 'string' },
      },
    },
  },
  parse(value, path) {
    if (!Array.isArray(value) || value.length > 8) throw new ValidationError(path, 'an array of at most 8 ICE servers', value);
    return value.map((s, i) => {
      const p = `${path}[${i}]`;
      if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new ValidationError(p, 'an object {urls, username?, credential?}', s);
      const { urls, username, credential, ...rest } = s as Record<string, unknown>;
      const extra = Object.keys(rest)[0];
      if (extra) throw new ValidationError(`${p}.${extra}`, 'one of urls, username, credential', rest[extra]);
      const list = typeof urls === 'string' ? [urls] : urls;
      if (!Array.isArray(list) || list.length === 0 || !list.every((u) => typeof u === 'string' && URL_RE.test(u))) {
        throw new ValidationError(`${p}.urls`, 'a stun:/turn: URL or a non-empty list of them', urls);
      }
      if (username !== undefined && typeof username !== 'string') throw new ValidationError(`${p}.username`, 'string', username);
      if (credential !== undefined && typeof credential !== 'string') throw new ValidationError(`${p}.credential`, 'string', credential);
      return { urls: urls as string | string[], ...(username !== undefined ? { username } : {}), ...(credential !== undefined ? { credential } : {}) };
    });
  },
};
