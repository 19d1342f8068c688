import type { FastifyInstance } from 'fastify';
import { ADMIN_ONLY } from '../auth/permissions.js';
import type { LoginGuard } from '../auth/login-guard.js';
import type { UserStore } from '../auth/users.js';
import { CoreErrors } from '../errors.js';
import { requirePermission } from './auth.js';

const errorBody = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } } };

const lockoutSchema = {
  type: 'object',
  properties: {
    address: { type: 'string', description: 'the source address (IPv6: its /64)' },
    until: { type: 'string', format: 'date-time' },
    failures: { type: 'integer', description: 'failures within the window' },
    lastUser: { type: 'string', description: 'the user name of its last failure' },
  },
};

/**
 * The `auth` figures of `GET /api/stats`: counters for every Media_r caller; which addresses are
 * locked out and which user names are under attack only for an Admin (a name tried may be a password
 * typed into the wrong field).
 */
export function authStats(guard: LoginGuard, admin: boolean): object {
  const s = guard.stats();
  return admin ? { ...s, lockedOut: guard.lockouts(), attackedUsers: guard.usersUnderAttack() } : s;
}

/** Admin routes: the lockouts in force, and lifting one. */
export function registerAuthApi(app: FastifyInstance, users: UserStore): void {
  const admin = requirePermission(users, ADMIN_ONLY);
  app.get(
    '/api/auth/lockouts',
    {
      preHandler: admin,
      schema: {
        summary: 'Source addresses locked out after failed logins, and user names under attack (Admin)',
        response: {
          200: {
            type: 'object',
            properties: { lockouts: { type: 'array', items: lockoutSchema }, usersUnderAttack: { type: 'array', items: { type: 'string' } } },
          },
          403: errorBody,
        },
      },
    },
    async () => ({ lockouts: users.guard.lockouts(), usersUnderAttack: users.guard.usersUnderAttack() }),
  );
  app.delete<{ Params: { address: string } }>(
    '/api/auth/lockouts/:address',
    {
      preHandler: admin,
      schema: {
        summary: "Lifts an address's lockout and forgets its failed logins (Admin)",
        params: { type: 'object', required: ['address'], properties: { address: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null' }, 403: errorBody, 404: errorBody },
      },
    },
    async (req, reply) => {
      if (!users.guard.lift(req.params.address)) throw new CoreErrors.AUTH_NO_LOCKOUT(req.params.address);
      return reply.code(204).send();
    },
  );
}
