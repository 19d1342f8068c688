/**
 * The media process: one child of the daemon that holds every GStreamer pipeline of the daemon
 * (shared captures, and each stream's filters and encoder) through node-gtk. JavaScript here only controls: it builds,
 * starts, stops and reconfigures pipelines and polls their buses. No JavaScript runs per frame:
 * encoded media leaves each pipeline through `gdppay ! fdsink` on a unix-socket connection of its own
 * to the daemon, so no frame byte is copied through JavaScript, and a pipeline's stream ends cleanly
 * with its connection. It exits when the daemon goes away, even on SIGKILL (IPC disconnect).
 *
 *   media-host inspect        → one `inspect` message with every element factory, then exit
 *   media-host caps <element> → one `caps` message with what a source element can produce, then exit
 *   media-host probe <json>   → the cameras GstDeviceMonitor sees, then each one-frame trial of an
 *                               element as it runs (media-probe.ts), then `probe` and exit
 *   media-host run <socket>   → runs pipelines on request until the daemon disconnects
 */
import { createRequire } from 'node:module';
import type { StartProperty } from '../types.js';
import {
  CAPTURE_FANOUT_ELEMENT,
  CAPTURE_INPUT,
  MEDIA_HEADER_PREFIX,
  MEDIA_OUT_ELEMENT,
  type FromMediaProcess,
  type PropertyValue,
  type ToMediaProcess,
} from './protocol.js';
import { inspect, probe, sourceCaps } from './media-probe.js';
import { dieWithParent } from './parent-watch.js';

const require = createRequire(import.meta.url);
const gi = require('node-gtk');
const Gst = gi.require('Gst', '1.0');
Gst.init([]);

/** Bus messages are polled: node-gtk's bus watches need a GLib main loop this process does not run. */
const BUS_POLL_MS = 20;
/** Wrappers of bus messages and pads are collected on this cadence (their native memory is invisible to V8). */
const GC_INTERVAL_MS = 10_000;

function send(msg: FromMediaProcess): void {
  process.send?.(msg);
}

const mode = process.argv[2];
// The one-shot modes block in GStreamer calls (an element opening its device) where no IPC event is
// seen: a watchdog thread ends them with the daemon. `run` polls its buses and sees `disconnect`.
if (mode !== 'run') dieWithParent();
if (mode === 'inspect') inspect(Gst);
else if (mode === 'caps') sourceCaps(Gst, process.argv[3]!);
else if (mode === 'probe') void probe(Gst, JSON.parse(process.argv[3]!));
else run(process.argv[3]!);

interface Running {
  readonly id: string;
  readonly pipeline: any;
  readonly bus: any;
  /** The GSocketConnection carrying this pipeline's media to the daemon. */
  readonly connection?: any;
  /** A shared capture: the branches of its `tee` that feed readers now. */
  readonly fanout: Set<Branch>;
  /** A reader: its branches, one per `proxysrc` that reads a shared capture. */
  readonly inputs: Branch[];
}

/** One reader's branch of a shared capture: `tee` request pad → `proxysink` → the reader's `proxysrc`. */
interface Branch {
  readonly capture: Running;
  readonly reader: string;
  readonly teePad: any;
  readonly sink: any;
}

function run(mediaSocket: string): void {
  const pipelines = new Map<string, Running>();
  /** Shared captures by role (their id in the daemon, `capture1`): where readers' `proxysrc`s find them. */
  const roles = new Map<string, Running>();
  // The realtime clock makes base time + running time a wall-clock capture time, in every pipeline.
  const clock = Gst.SystemClock.obtain();
  clock.clockType = Gst.ClockType.REALTIME;
  // One base time for every pipeline of the process: a reader takes a capture's buffers with their
  // timestamps as they are, so both must mean the same running time.
  const baseTime = clock.getTime() as bigint;

  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) setInterval(gc, GC_INTERVAL_MS).unref();
  setInterval(() => {
    for (const [id, p] of pipelines) drainBus(id, p);
  }, BUS_POLL_MS);

  const end = (id: string, code: number) => {
    const p = pipelines.get(id);
    if (!p) return;
    pipelines.delete(id);
    for (const [role, r] of roles) if (r === p) roles.delete(role);
    // A capture that ends takes its readers with it: they fail as they would on a camera fault and
    // rejoin once it plays again.
    for (const b of [...p.fanout]) {
      if (!pipelines.has(b.reader)) continue;
      send({ type: 'error', id: b.reader, message: 'its shared capture stopped', source: CAPTURE_FANOUT_ELEMENT });
      end(b.reader, 1);
    }
    teardown(p);
    send({ type: 'ended', id, code });
  };

  const exit = () => {
    for (const p of pipelines.values()) teardown(p);
    process.exit(0);
  };
  // The daemon died or closed the channel: never outlive it.
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);

  function drainBus(id: string, p: Running): void {
    for (;;) {
      const msg = p.bus.pop();
      if (!msg) return;
      const source = msg.src?.getName?.() as string | undefined;
      switch (msg.type) {
        case Gst.MessageType.ERROR: {
          const [err, debug] = msg.parseError();
          send({ type: 'error', id, message: String(err?.message ?? err), debug: debug ? String(debug) : undefined, source });
          end(id, 1);
          return;
        }
        case Gst.MessageType.WARNING: {
          const [err] = msg.parseWarning();
          send({ type: 'warning', id, message: String(err?.message ?? err), source });
          break;
        }
        case Gst.MessageType.EOS:
          end(id, 0);
          return;
        case Gst.MessageType.STATE_CHANGED:
          if (msg.src === p.pipeline) {
            const [, next] = msg.parseStateChanged();
            if (next === Gst.State.PLAYING) send({ type: 'playing', id });
          }
          break;
      }
    }
  }

  process.on('message', (msg: ToMediaProcess) => {
    switch (msg.type) {
      case 'start':
        try {
          const p = start(msg, msg.output ? mediaSocket : undefined, clock, baseTime, roles);
          pipelines.set(msg.id, p);
          if (msg.role) roles.set(msg.role, p);
        } catch (err) {
          send({ type: 'error', id: msg.id, message: (err as Error).message, source: (err as { source?: string }).source });
          send({ type: 'ended', id: msg.id, code: 1 });
        }
        break;
      case 'stop':
        end(msg.id, 0);
        break;
      case 'set':
        try {
          setProperty(pipelines.get(msg.id)?.pipeline, msg.element, msg.pad, msg.property, msg.value);
          send({ type: 'reply', req: msg.req, ok: true });
        } catch (err) {
          send({ type: 'reply', req: msg.req, ok: false, error: (err as Error).message });
        }
        break;
      case 'get':
        try {
          send({ type: 'reply', req: msg.req, ok: true, value: getProperty(pipelines.get(msg.id)?.pipeline, msg.element, msg.property) });
        } catch (err) {
          send({ type: 'reply', req: msg.req, ok: false, error: (err as Error).message });
        }
        break;
      case 'keyframe':
        forceKeyframe(pipelines.get(msg.id)?.pipeline);
        break;
      case 'fail':
        if (pipelines.has(msg.id)) {
          send({ type: 'error', id: msg.id, message: msg.message, source: 'fault injection' });
          end(msg.id, 1);
        }
        break;
    }
  });
}

function start(
  msg: Extract<ToMediaProcess, { type: 'start' }>,
  mediaSocket: string | undefined,
  clock: any,
  base: bigint,
  roles: ReadonlyMap<string, Running>,
): Running {
  const { id, launch } = msg;
  let pipeline: any;
  try {
    pipeline = Gst.parseLaunch(launch);
  } catch (err) {
    throw new Error(`could not build the pipeline: ${(err as Error).message}`);
  }
  pipeline.useClock(clock);
  let connection: any;
  const running: Running = { id, pipeline, bus: pipeline.getBus(), connection: undefined, fanout: new Set(), inputs: [] };
  try {
    if (mediaSocket) connection = connectMedia(id, pipeline, mediaSocket);
    Object.assign(running, { connection });
    // Fix the base time ourselves so the daemon knows it before the first frame arrives.
    pipeline.setStartTime(Gst.CLOCK_TIME_NONE);
    pipeline.setBaseTime(base);
    applyStartProperties(pipeline, msg.startProperties, base);
    const readers = [...launch.matchAll(CAPTURE_INPUT)].map((m) => {
      const capture = roles.get(m[1]!);
      if (!capture) throw new Error(`shared capture ${m[1]} is not running`);
      return { src: pipeline.getByName(m[0].slice('name='.length)), capture };
    });
    send({ type: 'starting', id, baseTimeNs: String(base) });
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
      // The bus holds GStreamer's own reason; report it before giving up.
      const msg = running.bus.popFiltered(Gst.MessageType.ERROR);
      teardown(running);
      if (!msg) throw new Error('the pipeline refused to start');
      throw Object.assign(new Error(String(msg.parseError()[0]?.message)), { source: msg.src?.getName?.() as string | undefined });
    }
    for (const r of readers) running.inputs.push(addBranch(r.capture, id, r.src));
    return running;
  } catch (err) {
    teardown(running);
    throw err;
  }
}

/**
 * Feeds a reader's `proxysrc` from a shared capture: a new `tee` branch ending in a `proxysink`. The
 * proxysrc's own queue is the only one between them, leaky and two frames deep, so a slow or stopped
 * reader drops frames and the capture never waits (a proxysink ignores what its reader returns).
 * Each reader run gets a new proxysink: one hands a new reader its stream's caps only once.
 */
function addBranch(capture: Running, reader: string, src: any): Branch {
  const queue = src.getChildByIndex(0);
  queue.maxSizeBuffers = 2;
  queue.maxSizeBytes = 0;
  queue.maxSizeTime = 0n;
  Gst.utilSetObjectArg(queue, 'leaky', 'downstream');
  const tee = capture.pipeline.getByName(CAPTURE_FANOUT_ELEMENT);
  if (!tee) throw new Error(`shared capture has no "${CAPTURE_FANOUT_ELEMENT}" element`);
  const sink = Gst.ElementFactory.make('proxysink', null);
  capture.pipeline.add(sink);
  // Playing before it is linked: a tee that pushes into a pad still inactive gets FLUSHING back and
  // passes it upstream, which would stop the capture and every reader with it.
  sink.syncStateWithParent();
  const teePad = tee.requestPadSimple('src_%u');
  teePad.link(sink.getStaticPad('sink'));
  src.proxysink = sink;
  const branch: Branch = { capture, reader, teePad, sink };
  capture.fanout.add(branch);
  return branch;
}

/**
 * Takes a stopped reader's branch out of its capture (unless the capture has gone first): unlinked
 * first (the tee then skips it: not linked) and only then stopped, for the reason in `addBranch`.
 */
function removeBranch(b: Branch): void {
  if (!b.capture.fanout.delete(b)) return;
  const tee = b.capture.pipeline.getByName(CAPTURE_FANOUT_ELEMENT);
  b.teePad.unlink(b.sink.getStaticPad('sink'));
  tee?.releaseRequestPad(b.teePad);
  b.sink.setState(Gst.State.NULL);
  b.capture.pipeline.remove(b.sink);
}

/**
 * Opens the pipeline's own connection to the daemon's media socket and hands its fd to the final
 * `fdsink`. One connection per pipeline run: a stopped pipeline's stream ends with its connection,
 * so a half-written frame can never run into the next run's stream.
 */
function connectMedia(id: string, pipeline: any, mediaSocket: string): any {
  const Gio = gi.require('Gio', '2.0');
  const sink = pipeline.getByName(MEDIA_OUT_ELEMENT);
  if (!sink) throw new Error(`the pipeline has no "${MEDIA_OUT_ELEMENT}" element for its media output`);
  const connection = new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(mediaSocket), null);
  connection.getOutputStream().writeAll(Buffer.from(`${MEDIA_HEADER_PREFIX}${id}\n`), null);
  sink.fd = connection.getSocket().getFd();
  return connection;
}

/** Pipelines already torn down: a start that failed half-way may be torn down twice. */
const tornDown = new WeakSet<Running>();

function teardown(p: Running): void {
  if (tornDown.has(p)) return;
  tornDown.add(p);
  try {
    p.pipeline.setState(Gst.State.NULL);
    for (const b of p.inputs.splice(0)) removeBranch(b);
    // A capture's branches go with it (its readers must not touch it any more).
    p.fanout.clear();
    // node-gtk keeps one reference too many on an object a call hands over when it makes a new
    // wrapper for it (gst_parse_launch, gst_element_get_bus: once per run). Dropped here, or the
    // pipeline and its bus would never be freed: each run left the bus's two wakeup sockets behind.
    // (Elements looked up by name may already have a wrapper, so their count is left alone.)
    p.pipeline.unref();
    p.bus.unref();
  } finally {
    try {
      p.connection?.close(null);
    } catch {
      /* the daemon closed its end first */
    }
  }
}

function setProperty(pipeline: any, element: string, pad: string | undefined, property: string, value: PropertyValue): void {
  if (!pipeline) throw new Error('the pipeline is not running');
  const el = pipeline.getByName(element);
  if (!el) throw new Error(`no element named "${element}" in the pipeline`);
  // getStaticPad finds any existing pad by name, request pads (compositor sink_0) included.
  const target = pad ? el.getStaticPad(pad) : el;
  if (!target) throw new Error(`element "${element}" has no pad "${pad}"`);
  // node-gtk exposes GObject properties camel-cased. Only that form is a real test: `in` answers true
  // for any name containing a dash.
  const camel = camelCase(property);
  if (!(camel in target)) throw new Error(`"${pad ? `${element}.${pad}` : element}" has no property "${property}"`);
  // GStreamer parses the string form of any property type (enums by nick, e.g. valignment=bottom).
  if (typeof value === 'string') Gst.utilSetObjectArg(target, property.replace(/_/g, '-'), value);
  else target[camel] = value;
}

/** A property's value as IPC carries it: numbers, strings and booleans as they are, anything else (a GstStructure) as text. */
function getProperty(pipeline: any, element: string, property: string): PropertyValue {
  if (!pipeline) throw new Error('the pipeline is not running');
  const el = pipeline.getByName(element);
  if (!el) throw new Error(`no element named "${element}" in the pipeline`);
  const v = el[camelCase(property)];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return v?.toString ? String(v.toString()) : String(v);
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
