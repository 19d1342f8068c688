/**
 * The pipeline worker: a child process that owns one GStreamer pipeline through node-gtk. Control
 * (state, properties, bus messages, clock) goes over IPC; encoded media leaves through fd 3 (gdppay ! fdsink)
 * so no frame byte is copied through JavaScript. It exits when its parent goes away, even on SIGKILL.
 *
 *   worker.ts inspect   → one `inspect` message with every element factory, then exit
 *   worker.ts run       → waits for `start`, runs the pipeline until `stop` or parent death
 */
import { createRequire } from 'node:module';
import type { StartProperty } from '../types.js';
import type { FromWorker, ToWorker } from './protocol.js';

const require = createRequire(import.meta.url);
const gi = require('node-gtk');
const Gst = gi.require('Gst', '1.0');
Gst.init([]);

function send(msg: FromWorker): void {
  process.send?.(msg);
}

/** Full collections every 2 s keep native memory referenced by dead wrappers bounded (a few ms each). */
const GC_INTERVAL_MS = 2000;

const mode = process.argv[2];
if (mode === 'inspect') inspect();
else run();

function inspect(): void {
  // Walk every plugin's features: gst_element_factory_list_get_elements() misses some factories
  // (videoconvert on GStreamer 1.22), the registry's plugin list does not.
  const reg = Gst.Registry.get();
  const factories: any[] = [];
  for (const p of reg.getPluginList() as any[]) {
    for (const f of reg.getFeatureListByPlugin(p.getName()) as any[]) if (f instanceof Gst.ElementFactory) factories.push(f);
  }
  const out = factories.map((f) => {
    const caps = (dir: number) =>
      (f.getStaticPadTemplates() as any[]).filter((t) => t.direction === dir).map((t) => String(t.getCaps().toString()));
    return {
      name: String(f.getName()),
      rank: Number(f.getRank()),
      klass: String(f.getMetadata('klass') ?? ''),
      plugin: String(f.getPluginName?.() ?? ''),
      sinkCaps: caps(Gst.PadDirection.SINK),
      srcCaps: caps(Gst.PadDirection.SRC),
    };
  });
  process.send!({ type: 'inspect', factories: out } satisfies FromWorker, () => process.exit(0));
}

function run(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) setInterval(gc, GC_INTERVAL_MS).unref();
  let pipeline: any;
  const cleanups: Array<() => void> = [];
  let stopping = false;

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of cleanups) {
      try {
        c();
      } catch {
        /* best effort on the way out */
      }
    }
    try {
      pipeline?.setState(Gst.State.NULL);
    } catch {
      /* exiting anyway */
    }
    process.exit(code);
  };
  // The parent died or closed the channel: never outlive it.
  process.on('disconnect', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  process.on('message', async (msg: ToWorker) => {
    try {
      switch (msg.type) {
        case 'start':
          pipeline = start(msg.launch, msg.startProperties, cleanups);
          break;
        case 'set':
          try {
            setProperty(pipeline, msg.element, msg.pad, msg.property, msg.value);
            send({ type: 'reply', id: msg.id, ok: true });
          } catch (err) {
            send({ type: 'reply', id: msg.id, ok: false, error: (err as Error).message });
          }
          break;
        case 'keyframe':
          forceKeyframe(pipeline);
          break;
        case 'stop':
          stop(0);
          break;
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).message });
      stop(1);
    }
  });
}

function start(launch: string, startProperties: readonly StartProperty[], cleanups: Array<() => void>): any {
  let pipeline: any;
  try {
    pipeline = Gst.parseLaunch(launch);
  } catch (err) {
    throw new Error(`could not build the pipeline: ${(err as Error).message}`);
  }
  // The realtime clock makes base time + running time a wall-clock capture time.
  const clock = Gst.SystemClock.obtain();
  clock.clockType = Gst.ClockType.REALTIME;
  pipeline.useClock(clock);
  // Fix the base time ourselves so the daemon knows it before the first frame arrives.
  pipeline.setStartTime(Gst.CLOCK_TIME_NONE);
  const base = clock.getTime();
  pipeline.setBaseTime(base);
  applyStartProperties(pipeline, startProperties, base);
  send({ type: 'starting', baseTimeNs: String(base) });
  const bus = pipeline.getBus();
  const poll = setInterval(() => drainBus(bus, pipeline), 20);
  cleanups.push(() => clearInterval(poll));
  if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
    drainBus(bus, pipeline);
    throw new Error('the pipeline refused to start (see the previous error)');
  }
  return pipeline;
}

/** Bus messages are polled: node-gtk's bus watches need a GLib main loop this process does not run. */
function drainBus(bus: any, pipeline: any): void {
  for (;;) {
    const msg = bus.pop();
    if (!msg) return;
    const source = msg.src?.getName?.() as string | undefined;
    switch (msg.type) {
      case Gst.MessageType.ERROR: {
        const [err, debug] = msg.parseError();
        send({ type: 'error', message: String(err?.message ?? err), debug: debug ? String(debug) : undefined, source });
        setTimeout(() => process.exit(1), 50);
        return;
      }
      case Gst.MessageType.WARNING: {
        const [err] = msg.parseWarning();
        send({ type: 'warning', message: String(err?.message ?? err), source });
        break;
      }
      case Gst.MessageType.EOS:
        send({ type: 'eos' });
        setTimeout(() => process.exit(0), 50);
        return;
      case Gst.MessageType.STATE_CHANGED:
        if (msg.src === pipeline) {
          const [, next] = msg.parseStateChanged();
          if (next === Gst.State.PLAYING) send({ type: 'playing' });
        }
        break;
    }
  }
}

function setProperty(pipeline: any, element: string, pad: string | undefined, property: string, value: unknown): void {
  if (!pipeline) throw new Error('the pipeline is not running');
  const el = pipeline.getByName(element);
  if (!el) throw new Error(`no element named "${element}" in the pipeline`);
  // getStaticPad finds any existing pad by name, request pads (compositor sink_0) included.
  const target = pad ? el.getStaticPad(pad) : el;
  if (!target) throw new Error(`element "${element}" has no pad "${pad}"`);
  // node-gtk exposes GObject properties camel-cased. Only that form is a real test: `in` answers true
  // for any name containing a dash.
  const camel = property.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  if (!(camel in target)) throw new Error(`"${pad ? `${element}.${pad}` : element}" has no property "${property}"`);
  // GStreamer parses the string form of any property type (enums by nick, e.g. valignment=bottom).
  if (typeof value === 'string') Gst.utilSetObjectArg(target, property.replace(/_/g, '-'), value);
  else target[camel] = value;
}

/** Asks the encoder for a keyframe (with SPS/PPS) as soon as possible: the GstForceKeyUnit upstream event. */
function forceKeyframe(pipeline: any): void {
  const enc = pipeline?.getByName('encoder');
  if (!enc) return;
  const s = Gst.Structure.newFromString('GstForceKeyUnit, all-headers=(boolean)true');
  enc.sendEvent(Gst.Event.newCustom(Gst.EventType.CUSTOM_UPSTREAM, s));
}

/** Sets the properties whose values exist only once the base time is fixed (see `StartProperty`). */
function applyStartProperties(pipeline: any, props: readonly StartProperty[], baseNs: bigint): void {
  for (const p of props) {
    const el = pipeline.getByName(p.element);
    if (!el) throw new Error(`no element named "${p.element}" for start property ${p.property}`);
    el[camelCase(p.property)] = startValue(p.value, baseNs);
  }
}

function startValue(value: StartProperty['value'], baseNs: bigint): unknown {
  switch (value) {
    case 'baseTime.ns':
      return String(baseNs);
    case 'baseTime.dateTime': {
      // GDateTime has µs resolution; the local zone makes timeoverlay print the camera's local time.
      const GLib = gi.require('GLib', '2.0');
      const us = baseNs / 1000n;
      return GLib.DateTime.newFromUnixLocal(Number(us / 1_000_000n)).add(Number(us % 1_000_000n));
    }
  }
}

const camelCase = (property: string) => property.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
