import { ADMIN_ONLY, definePlugin, MEDIA_READ, PLUGIN_API_VERSION, type StateKeyDefinition } from '@camd/core';
import { MUX_ELEMENTS } from './mux-child.js';
import { PublishTarget, type TargetStats } from './publisher.js';
import { parseTarget, redactTargets, targetId, targetLabel, targetsValidator, type ParsedTarget, type PublishTargetConfig } from './targets.js';

export const PLUGIN_NAME = '@camd/plugin-publish';

export const publishKeys = {
  publishTargets: {
    key: 'publishTargets',
    default: [] as PublishTargetConfig[],
    permissionRead: MEDIA_READ,
    // URLs carry credentials and decide where the camera's pictures go.
    permissionWrite: ADMIN_ONLY,
    validate: targetsValidator(),
    // Every reader (Admin included) sees URLs with password, passphrase, stream id and RTMP stream key masked.
    redact: redactTargets,
    description:
      "Media servers each stream is pushed to: [{stream, url, ca?, name?}] with rtsp://, rtsps://, rtmp://, rtmps:// or srt:// URLs (credentials hidden on read); ca (TLS only): the CA certificates the server's certificate must chain to, as PEM text or a PEM file's absolute path; name: what health checks, metrics and logs call the target (default #<position>), which never show its URL",
  },
} satisfies Record<string, StateKeyDefinition<any>>;

export interface PublishOptions {
  /** Applied at every start (a live change through `publishTargets` lasts until the next start); leave out to keep the stored list. */
  targets?: PublishTargetConfig[];
  /** Frames a busy connection may have waiting before the target drops to the next keyframe. */
  maxQueueFrames: number;
  /** Connecting, and each RTSP request, at most this long. */
  timeoutMs: number;
  /** A server that takes no data for this long is disconnected and retried. */
  stallMs: number;
  /** An RTMP/SRT muxer child that runs this long counts as connected. */
  confirmMs: number;
}

export default definePlugin<PublishOptions, typeof publishKeys>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Pushes streams to media servers (RTSP RECORD, RTMP, SRT) without re-encoding, with reconnect and backoff',
  stateKeys: publishKeys,
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      targets: targetsValidator().schema,
      maxQueueFrames: { type: 'integer', minimum: 2, default: 90 },
      timeoutMs: { type: 'integer', minimum: 100, default: 5000 },
      stallMs: { type: 'integer', minimum: 100, default: 10_000 },
      confirmMs: { type: 'integer', minimum: 0, default: 2000 },
    },
  },
  async setup(ctx) {
    if (ctx.options.targets !== undefined) await ctx.settings.publishTargets.set(ctx.options.targets);
    const running = new Map<string, PublishTarget>();
    let started = false;

    /** Why a target cannot work here at all (it is then reported, not retried). */
    const invalidReason = (t: ParsedTarget): string | undefined => {
      if (!ctx.streams.get(t.stream)) return `no stream "${t.stream}" is configured`;
      if (t.protocol === 'rtsp') return undefined;
      return missingElements(MUX_ELEMENTS[t.protocol]);
    };
    const missingElements = (factories: readonly string[]): string | undefined => {
      const missing = factories.filter((f) => !ctx.registry.has(f));
      if (missing.length === 0) return undefined;
      const pkgs = [...new Set(missing.map((f) => ctx.registry.packageFor(f)).filter(Boolean))];
      return `GStreamer element${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing${pkgs.length ? ` (install ${pkgs.join(', ')})` : ''}`;
    };

    // Targets whose stream and URL stay the same keep their connection through a change of the list.
    let applying: Promise<void> = Promise.resolve();
    const apply = (list: readonly PublishTargetConfig[]) => {
      applying = applying.then(async () => {
        const wanted = new Map(
          list.map((t, i) => {
            const target = parseTarget(t);
            return [targetId(target), { target, label: targetLabel(target, i) }] as const;
          }),
        );
        const gone = [...running].filter(([id]) => !wanted.has(id));
        for (const [id] of gone) running.delete(id);
        await Promise.all(gone.map(([, t]) => t.stop()));
        for (const [id, { target, label }] of wanted) {
          const kept = running.get(id);
          if (kept) {
            // Same stream and URL: the connection stays; its name (or position) may have changed.
            kept.name = label;
            continue;
          }
          const t = new PublishTarget({
            target,
            label,
            hub: ctx.hub,
            log: ctx.logger,
            maxQueue: ctx.options.maxQueueFrames,
            timeoutMs: ctx.options.timeoutMs,
            stallMs: ctx.options.stallMs,
            confirmMs: ctx.options.confirmMs,
            invalid: invalidReason(target),
            missingElements,
          });
          running.set(id, t);
          t.start();
        }
      });
      return applying;
    };

    ctx.hooks.started.tapPromise(PLUGIN_NAME, async () => {
      started = true;
      await apply(ctx.settings.publishTargets.get());
    });
    const off = ctx.settings.publishTargets.watch((list) => {
      if (started) void apply(list);
    });
    const sampler = setInterval(() => {
      for (const t of running.values()) t.sample();
    }, 1000);
    sampler.unref();

    ctx.hooks.collectStats.tap(PLUGIN_NAME, (report) => {
      const byStream = new Map<string, TargetStats[]>();
      for (const t of running.values()) {
        const list = byStream.get(t.target.stream) ?? [];
        list.push(t.stats());
        byStream.set(t.target.stream, list);
      }
      for (const stream of Object.keys(report)) {
        (report[stream] as Record<string, unknown>).publish = { targets: byStream.get(stream) ?? [] };
      }
      return report;
    });
    ctx.hooks.collectHealth.tap(PLUGIN_NAME, (checks) => {
      for (const t of running.values()) {
        const h = t.health();
        // Named by the target's name or position: its URL (host, user, path, query) is no one else's business.
        checks.push({ name: `publish ${t.target.stream} ${t.name}`, healthy: h.healthy, ...(h.detail ? { detail: h.detail } : {}) });
      }
      return checks;
    });
    ctx.onClose(async () => {
      off();
      clearInterval(sampler);
      await applying;
      const all = [...running.values()];
      running.clear();
      await Promise.all(all.map((t) => t.stop()));
    });
  },
});
