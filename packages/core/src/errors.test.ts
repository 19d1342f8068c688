import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { CamdError, CoreErrors, createError, ErrorCodes, isCamdError } from './errors.js';
import { createHttpServer } from './http/server.js';
import type { UserStore } from './auth/users.js';
import { createTestHost } from './testing/index.js';

// A plugin's list, declared as a plugin author would.
const HelloErrors = {
  NO_SITE: createError('CAMD_ERR_HELLO_NO_SITE', 'no site "%s"', 404),
  LIMIT: createError('CAMD_ERR_HELLO_LIMIT', '%d of %d greetings used (%j)', 429),
  OFF: createError('CAMD_ERR_HELLO_OFF', 'greetings are off: 100%% quiet', 503),
  BROKEN: createError('CAMD_ERR_HELLO_BROKEN', 'broken'),
};

describe('createError', () => {
  it('declares a class whose instances carry code, status and the formatted message', () => {
    const err = new HelloErrors.NO_SITE('lobby');
    expect(err).toBeInstanceOf(HelloErrors.NO_SITE);
    expect(err).toBeInstanceOf(CamdError);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(HelloErrors.LIMIT);
    expect([err.code, err.statusCode, err.message, err.name]).toEqual(['CAMD_ERR_HELLO_NO_SITE', 404, 'no site "lobby"', 'CamdError']);
    expect(err.stack).toMatch(/no site "lobby"/);
    expect([HelloErrors.NO_SITE.code, HelloErrors.NO_SITE.statusCode, HelloErrors.NO_SITE.template]).toEqual(['CAMD_ERR_HELLO_NO_SITE', 404, 'no site "%s"']);
    expect(isCamdError(err)).toBe(true);
    expect(isCamdError(err, 'CAMD_ERR_HELLO_NO_SITE')).toBe(true);
    expect(isCamdError(err, ErrorCodes.STREAM_UNKNOWN)).toBe(false);
    expect(isCamdError(new Error('plain'))).toBe(false);
  });

  it('formats util.format placeholders; %% is a percent sign; the status defaults to 500', () => {
    expect(new HelloErrors.LIMIT(3, 3, { per: 'minute' }).message).toBe('3 of 3 greetings used ({"per":"minute"})');
    expect(new HelloErrors.OFF().message).toBe('greetings are off: 100% quiet');
    expect(new HelloErrors.BROKEN().statusCode).toBe(500);
  });

  it('takes { cause, details, plugin, hook } after the template arguments', () => {
    const cause = new Error('ENOENT');
    const err = new HelloErrors.NO_SITE('lobby', { cause, details: { tried: ['a'] }, plugin: 'camd-plugin-hello' });
    expect(err.message).toBe('no site "lobby"');
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ tried: ['a'] });
    expect(err.plugin).toBe('camd-plugin-hello');
    expect(new HelloErrors.OFF({ hook: 'collectStats' }).hook).toBe('collectStats');
  });

  it('checks the declaration: a CAMD_ERR_ code, a message, an HTTP error status', () => {
    for (const code of ['FST_ERR_X', 'CAMD_ERR_', 'CAMD_ERR_lower', 'CAMD_ERR_TRAILING_', 'CAMD_ERR_A__B', 'camd_err_x']) {
      expect(() => createError(code as `CAMD_ERR_${string}`, 'x'), code).toThrow(TypeError);
    }
    expect(() => createError('CAMD_ERR_X', '')).toThrow(/message/);
    for (const status of [200, 399, 600, 404.5]) expect(() => createError('CAMD_ERR_X', 'x', status), String(status)).toThrow(/statusCode/);
    expect(createError('CAMD_ERR_X2_Y', 'x', 418).statusCode).toBe(418);
  });

  it('types the template arguments', () => {
    // @ts-expect-error: the template takes one argument
    void new HelloErrors.NO_SITE();
    // @ts-expect-error: a second argument must be the options object
    void new HelloErrors.NO_SITE('a', 'b');
    // @ts-expect-error: not a CAMD_ERR_ code
    expect(() => createError('FST_ERR_X', 'x')).toThrow(TypeError);
  });

  it('keeps core codes as they were, each with its status', () => {
    expect(ErrorCodes.STATE_INVALID).toBe('CAMD_ERR_STATE_INVALID');
    expect(Object.isFrozen(ErrorCodes)).toBe(true);
    for (const [name, code] of Object.entries(ErrorCodes)) expect(code).toBe(`CAMD_ERR_${name}`);
    const legacy = new CamdError(ErrorCodes.STATE_UNKNOWN_KEY, 'no state key "x"', { plugin: 'p' });
    expect([legacy.code, legacy.statusCode, legacy.message, legacy.plugin]).toEqual(['CAMD_ERR_STATE_UNKNOWN_KEY', 404, 'no state key "x"', 'p']);
    expect(new CamdError(ErrorCodes.CONFIG, 'x').statusCode).toBe(500);
    expect(new CoreErrors.STATE_FORBIDDEN('viewer may not write "x"').statusCode).toBe(403);
    expect(isCamdError(new CoreErrors.STATE_FORBIDDEN('x'), ErrorCodes.STATE_FORBIDDEN)).toBe(true);
  });
});

describe('the HTTP error handler', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await createHttpServer({ logger: pino({ level: 'silent' }), users: {} as UserStore, version: 'test' });
    // As a plugin's encapsulated scope would.
    await app.register(async (scope) => {
      scope.get('/site', async () => {
        throw new HelloErrors.NO_SITE('lobby');
      });
      scope.get('/limit', async (_req, reply) => {
        reply.header('Retry-After', '5');
        throw new HelloErrors.LIMIT(3, 3, 'x');
      });
      scope.get('/core', async () => {
        throw new CamdError(ErrorCodes.STATE_INVALID, 'must be integer');
      });
      scope.get('/bug', async () => {
        throw new TypeError('secret internals');
      });
      scope.post('/json', async () => 'ok');
      // A camd error from another copy of @camd/core (a plugin that bundles its own).
      scope.get('/foreign', async () => {
        const foreign = Object.create({ [Symbol.for('camd.error')]: true });
        throw Object.assign(foreign, { code: 'CAMD_ERR_OTHER_COPY', statusCode: 409, message: 'from another copy' });
      });
    });
    await app.ready();
  });
  afterAll(() => app.close());

  const answer = async (method: 'GET' | 'POST', url: string, payload?: string) => {
    const res = await app.inject({ method, url, payload, headers: payload ? { 'content-type': 'application/json' } : {} });
    return { status: res.statusCode, type: res.headers['content-type'], retryAfter: res.headers['retry-after'], body: res.json() };
  };

  it('answers a created error { error, code, message } with its status', async () => {
    expect(await answer('GET', '/site')).toEqual({
      status: 404,
      type: 'application/json; charset=utf-8',
      retryAfter: undefined,
      body: { error: 'Not Found', code: 'CAMD_ERR_HELLO_NO_SITE', message: 'no site "lobby"' },
    });
    expect(await answer('GET', '/limit')).toMatchObject({
      status: 429,
      retryAfter: '5',
      body: { error: 'Too Many Requests', code: 'CAMD_ERR_HELLO_LIMIT', message: '3 of 3 greetings used ("x")' },
    });
    expect(await answer('GET', '/foreign')).toMatchObject({
      status: 409,
      body: { error: 'Conflict', code: 'CAMD_ERR_OTHER_COPY', message: 'from another copy' },
    });
  });

  it("answers core's codes, fastify's 4xx and unknown routes as before, and hides a bug's details", async () => {
    expect((await answer('GET', '/core')).body).toEqual({ error: 'Bad Request', code: 'CAMD_ERR_STATE_INVALID', message: 'must be integer' });
    expect(await answer('POST', '/json', '{')).toMatchObject({ status: 400, body: { error: 'Bad Request', code: 'CAMD_ERR_INVALID_JSON_BODY' } });
    expect(await answer('GET', '/bug')).toEqual({
      status: 500,
      type: 'application/json; charset=utf-8',
      retryAfter: undefined,
      body: { error: 'Internal Server Error', code: 'CAMD_ERR_INTERNAL', message: 'internal error (see the daemon log)' },
    });
    expect(await answer('GET', '/nope?x=1')).toMatchObject({
      status: 404,
      body: { error: 'Not Found', code: 'CAMD_ERR_NOT_FOUND', message: 'no route GET /nope' },
    });
  });

  it("answers core's own routes with core's list (the real server)", async () => {
    const h = await createTestHost({ media: false });
    try {
      const unknown = await h.fetch('/api/streams/nope/snapshot.jpg');
      expect([unknown.status, await unknown.json()]).toEqual([404, { error: 'Not Found', code: 'CAMD_ERR_STREAM_UNKNOWN', message: 'no stream "nope"' }]);
      // No pipelines: no picture within the snapshot's 5 s wait.
      const none = await h.fetch('/api/streams/stream1/snapshot.jpg');
      expect([none.status, await none.json()]).toEqual([
        503,
        { error: 'Service Unavailable', code: 'CAMD_ERR_SNAPSHOT', message: 'no picture from "stream1" yet: no frame from stream "stream1" within 5000 ms' },
      ]);
    } finally {
      await h.close();
    }
  });
});
