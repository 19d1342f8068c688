import { SyncBailHook } from 'tapable';
import {
  ADMIN_ONLY,
  definePlugin,
  MEDIA_READ,
  MEDIA_WRITE,
  PLUGIN_API_VERSION,
  STAGE,
  v,
  ValidationError,
  type StateKeyDefinition,
  type Validator,
} from '@camd/core';
import { aggregate, CLEAN_LOSS, DEFAULT_QUANTILE, seedPolicy, type AbrDecision, type AbrInput, type ClientReport } from './policy.js';

export const PLUGIN_NAME = '@camd/plugin-abr';

/** The API other plugins resolve with `ctx.container.resolve(ABR_API)` (declare `requires: ['@camd/plugin-abr']`). */
export const ABR_API = Symbol.for('camd.plugin-abr.api');

export interface AbrApi {
  /** First policy to answer wins; the built-in rule (`seedPolicy`: loss > 5 % → ×0.8, bandwidth > 1.5× → ×1.2) answers at STAGE.DEFAULT. Tap earlier to replace it. */
  readonly hooks: { readonly chooseBitrate: SyncBailHook<[AbrInput], AbrDecision | undefined> };
}

export const abrKeys = {
  abrEnabled: {
    key: 'abrEnabled',
    default: true,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'Adapt the encoder bitrate to receiver feedback',
  },
  abrMinBitrate: {
    key: 'abrMinBitrate',
    default: 500_000,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 64_000, max: 50_000_000 }),
    description: 'Floor, bit/s',
  },
  abrMaxBitrate: {
    key: 'abrMaxBitrate',
    default: 12_000_000,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 64_000, max: 50_000_000 }),
    description: 'Cap, bit/s (default 12 Mbit/s)',
  },
  abrQuantile: {
    key: 'abrQuantile',
    default: DEFAULT_QUANTILE,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.number({ min: 0, max: 1 }),
    description:
      "Which client's reports the shared encoder follows, as a quantile from the best client (0) to the worst (1): 0.5, the median, so that one viewer's bad link or forged reports cannot lower everyone's picture",
  },
  abrNominal: {
    key: 'abrNominal',
    default: {} as Record<string, number>,
    permissionRead: MEDIA_READ,
    permissionWrite: ADMIN_ONLY,
    validate: bitratesByStream(),
    description: "The operator's bitrate per stream: what ABR recovers to and what a restart resumes with (ABR's own changes do not move it)",
  },
} satisfies Record<string, StateKeyDefinition<any>>;

function bitratesByStream(): Validator<Record<string, number>> {
  const d = 'object {stream: bit/s}';
  const bitrate = v.int({ min: 64_000, max: 50_000_000 });
  return {
    describe: d,
    schema: { type: 'object', additionalProperties: bitrate.schema },
    parse(x, path) {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ValidationError(path, d, x);
      return Object.fromEntries(Object.entries(x).map(([k, b]) => [k, bitrate.parse(b, `${path}.${k}`)]));
    },
  };
}

export interface AbrOptions {
  tickMs: number;
  decreaseIntervalMs: number;
  increaseIntervalMs: number;
  recoverAfterMs: number;
  /** Reports older than this no longer count. */
  reportTtlMs: number;
}

interface StreamState {
  clients: Map<string, ClientReport>;
  lastChangeAt: number;
  cleanSince?: number;
  lastReason?: string;
  lastDecisionAt?: number;
  ignored: number;
  /** The loss that governed the last evaluation (the clients' quantile). */
  loss?: number;
  /** Evaluations of the stream's reports since the start (one per tick with reports). */
  evaluations: number;
}

export default definePlugin<AbrOptions>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Adaptive bitrate from RTCP feedback, applied to the live encoder',
  stateKeys: abrKeys,
  // ABR writes the streams' bitrates through the state store like a user with Media_rw would:
  // validation and permissions apply, and subscribers see the plugin as the writer.
  permissions: MEDIA_WRITE,
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      tickMs: { type: 'integer', minimum: 100, default: 1000 },
      decreaseIntervalMs: { type: 'integer', minimum: 0, default: 2000 },
      increaseIntervalMs: { type: 'integer', minimum: 0, default: 5000 },
      recoverAfterMs: { type: 'integer', minimum: 0, default: 10_000 },
      reportTtlMs: { type: 'integer', minimum: 1000, default: 10_000 },
    },
  },
  async setup(ctx) {
    const api: AbrApi = { hooks: Object.freeze({ chooseBitrate: new SyncBailHook<[AbrInput], AbrDecision | undefined>(['input']) }) };
    api.hooks.chooseBitrate.tap({ name: PLUGIN_NAME, stage: STAGE.DEFAULT }, (input) => seedPolicy(input));
    ctx.provide(ABR_API, api);

    const streams = new Map<string, StreamState>();
    const stateOf = (stream: string) => {
      let s = streams.get(stream);
      if (!s) streams.set(stream, (s = { clients: new Map(), lastChangeAt: 0, ignored: 0, evaluations: 0 }));
      return s;
    };
    // What an operator configured, per stream: recovery climbs back to it and a restart resumes with it.
    // ABR's own writes do not move it; it is kept in `abrNominal` because they are persisted too.
    const saved = ctx.state.get<Record<string, number>>('abrNominal');
    const nominal = new Map(ctx.streams.list().map((st) => [st.name, saved[st.name] ?? ctx.state.get<number>(ctx.streams.stateKey(st.name, 'streamBitrate'))]));
    const nominalOf = (stream: string) => nominal.get(stream) ?? ctx.state.get<number>(ctx.streams.stateKey(stream, 'streamBitrate'));
    const saveNominal = () =>
      ctx.settings.abrNominal.set(Object.fromEntries(nominal)).catch((err) => ctx.logger.warn({ err }, 'abr: cannot keep the nominal bitrate'));
    for (const st of ctx.streams.list()) {
      const key = ctx.streams.stateKey(st.name, 'streamBitrate');
      const current = ctx.state.get<number>(key);
      if (current !== nominalOf(st.name)) {
        // The daemon stopped while ABR had moved the bitrate: start again from the operator's value.
        ctx.logger.info({ stream: st.name, from: current, to: nominalOf(st.name) }, 'abr: resuming with the operator bitrate');
        await ctx.state.set(key, nominalOf(st.name));
      }
    }
    await saveNominal();

    ctx.hooks.networkFeedback.tap(PLUGIN_NAME, (f) => {
      if (!ctx.streams.get(f.stream)) return;
      stateOf(f.stream).clients.set(f.clientId, { loss: f.packetLoss ?? 0, availableBandwidth: f.availableBandwidth, at: f.receivedAt });
    });
    ctx.hooks.clientDisconnected.tap(PLUGIN_NAME, (c) => void streams.get(c.stream)?.clients.delete(c.id));

    const offs = ctx.streams.list().map((st) =>
      ctx.state.watch<number>(ctx.streams.stateKey(st.name, 'streamBitrate'), (c) => {
        if (c.by === PLUGIN_NAME || nominal.get(st.name) === c.value) return;
        nominal.set(st.name, c.value);
        void saveNominal();
      }),
    );

    const tick = async () => {
      if (!ctx.state.get<boolean>('abrEnabled')) return;
      const now = Date.now();
      for (const st of ctx.streams.list()) {
        const s = stateOf(st.name);
        for (const [id, r] of s.clients) if (now - r.at > ctx.options.reportTtlMs) s.clients.delete(id);
        if (s.clients.size === 0) continue;
        const agg = aggregate([...s.clients.values()], ctx.state.get<number>('abrQuantile'));
        s.ignored = agg.ignored;
        s.loss = agg.loss;
        s.evaluations++;
        if (agg.loss >= CLEAN_LOSS) s.cleanSince = undefined;
        else s.cleanSince ??= now;
        const key = ctx.streams.stateKey(st.name, 'streamBitrate');
        const current = ctx.state.get<number>(key);
        const min = ctx.state.get<number>('abrMinBitrate');
        const max = Math.max(min, ctx.state.get<number>('abrMaxBitrate'));
        const decision = api.hooks.chooseBitrate.call({
          stream: st.name,
          current,
          loss: agg.loss,
          availableBandwidth: agg.availableBandwidth,
          now,
          lastChangeAt: s.lastChangeAt,
          cleanSince: s.cleanSince,
          bounds: { min, max, nominal: nominalOf(st.name) },
          timing: {
            decreaseIntervalMs: ctx.options.decreaseIntervalMs,
            increaseIntervalMs: ctx.options.increaseIntervalMs,
            recoverAfterMs: ctx.options.recoverAfterMs,
          },
        });
        if (!decision || decision.target === current) continue;
        try {
          await ctx.state.set(key, decision.target);
          s.lastChangeAt = now;
          s.lastReason = decision.reason;
          s.lastDecisionAt = now;
          ctx.logger.info({ stream: st.name, from: current, to: decision.target, clients: s.clients.size, ignored: agg.ignored }, `abr: ${decision.reason}`);
        } catch (err) {
          ctx.logger.warn({ err, stream: st.name, target: decision.target }, 'abr: the bitrate change was refused');
        }
      }
    };
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      void tick().finally(() => (running = false));
    }, ctx.options.tickMs);
    timer.unref();

    ctx.hooks.collectStats.tap(PLUGIN_NAME, (report) => {
      for (const stream of Object.keys(report)) {
        const s = streams.get(stream);
        (report[stream] as Record<string, unknown>).abr = {
          enabled: ctx.state.get<boolean>('abrEnabled'),
          target: ctx.streams.get(stream) ? ctx.state.get<number>(ctx.streams.stateKey(stream, 'streamBitrate')) : undefined,
          nominal: ctx.streams.get(stream) ? nominalOf(stream) : undefined,
          lastReason: s?.lastReason ?? null,
          lastChangeAt: s?.lastDecisionAt ? new Date(s.lastDecisionAt).toISOString() : null,
          clients: s ? [...s.clients.entries()].map(([id, r]) => ({ id, loss: r.loss, availableBandwidth: r.availableBandwidth })) : [],
          // The quantile of the clients' losses that the last evaluation followed, and how many evaluations ran.
          loss: s?.loss ?? null,
          evaluations: s?.evaluations ?? 0,
          ignoredClients: s?.ignored ?? 0,
        };
      }
      return report;
    });
    ctx.onClose(() => {
      clearInterval(timer);
      for (const off of offs) off();
    });
  },
});
