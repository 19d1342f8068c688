import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createHooks, STAGE } from './hooks.js';
import { instrumentHooks } from './hooks-instrument.js';
import { isCamdError, ErrorCodes } from './errors.js';
import type { PipelineSpec } from './media/types.js';

const silent = pino({ level: 'silent' });

function spec(): PipelineSpec {
  return {
    stream: {
      name: 's',
      path: '/s',
      source: { kind: 'test', pattern: 'smpte' },
      width: 320,
      height: 240,
      fps: 15,
      bitrate: 1e6,
      codec: 'h264',
      profile: 'main',
      preset: 'fast',
      gop: 15,
    },
    source: { owner: 'core', launch: 'videotestsrc', elements: ['videotestsrc'] },
    filters: [],
    encoder: { owner: 'core', launch: 'x264enc name=encoder', elements: ['x264enc'], factory: 'x264enc', codec: 'h264', hardware: false },
    branches: [],
  };
}

describe('hooks', () => {
  it('are frozen: no plugin can add or replace a hook', () => {
    const hooks = createHooks();
    expect(Object.isFrozen(hooks)).toBe(true);
  });

  it('order taps by stage, not by registration order', async () => {
    const hooks = createHooks();
    instrumentHooks(hooks, silent);
    const add = (owner: string) => async (s: PipelineSpec) => ({ ...s, filters: [...s.filters, { owner, launch: owner, elements: [] }] });
    hooks.buildPipeline.tapPromise({ name: 'timestamp', stage: STAGE.OVERLAY }, add('timestamp'));
    hooks.buildPipeline.tapPromise({ name: 'pip', stage: STAGE.COMPOSE }, add('pip'));
    hooks.buildPipeline.tapPromise({ name: 'early', stage: STAGE.EARLY }, add('early'));
    const out = await hooks.buildPipeline.promise(spec());
    expect(out.filters.map((f) => f.owner)).toEqual(['early', 'pip', 'timestamp']);
  });

  it('name the hook and the plugin when a tap fails', async () => {
    const hooks = createHooks();
    instrumentHooks(hooks, silent);
    hooks.buildPipeline.tapPromise('broken-plugin', async () => {
      throw new Error('boom');
    });
    const err = await hooks.buildPipeline.promise(spec()).catch((e) => e);
    expect(isCamdError(err, ErrorCodes.HOOK_FAILED)).toBe(true);
    expect(err.message).toBe('hook buildPipeline: "broken-plugin" failed: boom');
    expect(err.plugin).toBe('broken-plugin');
  });

  it('report an async tap that never settles', async () => {
    const hooks = createHooks();
    instrumentHooks(hooks, silent, { timeoutMs: 50 });
    hooks.started.tapPromise('stuck-plugin', () => new Promise(() => undefined));
    const err = await hooks.started.promise().catch((e) => e);
    expect(isCamdError(err, ErrorCodes.HOOK_TIMEOUT)).toBe(true);
    expect(err.message).toMatch(/stuck-plugin.*50 ms/);
  });

  it('keep notifying the other taps when one notification tap throws', () => {
    const hooks = createHooks();
    instrumentHooks(hooks, silent);
    const got: string[] = [];
    hooks.networkFeedback.tap('bad', () => {
      throw new Error('bug');
    });
    hooks.networkFeedback.tap('good', (f) => void got.push(f.clientId));
    hooks.networkFeedback.call({ stream: 's', clientId: 'c1', transport: 'rtsp', receivedAt: 0 });
    expect(got).toEqual(['c1']);
  });

  it('let the first source answer win (bail)', async () => {
    const hooks = createHooks();
    instrumentHooks(hooks, silent);
    hooks.resolveSource.tapPromise({ name: 'core', stage: STAGE.DEFAULT }, async () => ({ owner: 'core', launch: 'videotestsrc', elements: ['videotestsrc'] }));
    hooks.resolveSource.tapPromise({ name: 'my-camera', stage: STAGE.EARLY }, async () => ({ owner: 'my-camera', launch: 'v4l2src', elements: ['v4l2src'] }));
    expect((await hooks.resolveSource.promise(spec().stream))?.owner).toBe('my-camera');
  });
});
