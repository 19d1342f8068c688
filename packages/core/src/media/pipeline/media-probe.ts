/**
 * The media process's one-shot answers (media-host.ts dispatches to them): what GStreamer has, what a
 * source element produces, which cameras GstDeviceMonitor sees, and whether elements really work
 * (one-frame trials). Each runs in a short-lived process that exits after answering, so the daemon
 * never loads GStreamer.
 */
import type { ElementTrial, TrialRequest } from '../registry.js';
import type { FromMediaProcess, RawDevice } from './protocol.js';
import { TRIAL_SINK } from './element-trials.js';

// node-gtk's Gst namespace (untyped).
type Gst = any;

function answer(msg: FromMediaProcess): void {
  process.send!(msg, () => process.exit(0));
}

export function inspect(Gst: Gst): void {
  // Walk every plugin's features: gst_element_factory_list_get_elements() misses some factories
  // (videoconvert on GStreamer 1.22), the registry's plugin list does not.
  const reg = Gst.Registry.get();
  const factories: any[] = [];
  for (const p of reg.getPluginList() as any[]) {
    for (const f of reg.getFeatureListByPlugin(p.getName()) as any[]) if (f instanceof Gst.ElementFactory) factories.push(f);
  }
  const out = factories.map((f) => {
    const caps = (dir: number) => (f.getStaticPadTemplates() as any[]).filter((t) => t.direction === dir).map((t) => String(t.getCaps().toString()));
    return {
      name: String(f.getName()),
      rank: Number(f.getRank()),
      klass: String(f.getMetadata('klass') ?? ''),
      plugin: String(f.getPluginName?.() ?? ''),
      sinkCaps: caps(Gst.PadDirection.SINK),
      srcCaps: caps(Gst.PadDirection.SRC),
    };
  });
  answer({ type: 'inspect', factories: out });
}

/**
 * What a source element can produce: its src pad's caps in READY, where v4l2src has opened the device
 * and reports the formats, sizes and rates the driver enumerates (as gst-device-monitor does).
 */
export function sourceCaps(Gst: Gst, launch: string): void {
  let caps: string | undefined;
  let error: string | undefined;
  let el: any;
  try {
    el = Gst.parseLaunch(launch);
    if (el.setState(Gst.State.READY) === Gst.StateChangeReturn.FAILURE) throw new Error(`${launch} does not open`);
    caps = String(el.getStaticPad('src').queryCaps(null).toString());
  } catch (err) {
    error = (err as Error).message;
  } finally {
    el?.setState(Gst.State.NULL);
  }
  answer({ type: 'caps', caps, error });
}

/** Sends a message and resolves once it is written: a trial may then block this thread for good. */
const post = (msg: FromMediaProcess) => new Promise<void>((resolve) => process.send!(msg, () => resolve()));

/**
 * `{ devices: true, trials: [...] }`: the cameras GstDeviceMonitor sees, then each trial in turn, each
 * announced before it runs. A trial can block in the element's driver for good: the daemon's deadline
 * for it starts with `trying`, kills this process when it passes, and asks a new one for the rest.
 */
export async function probe(Gst: Gst, request: { devices: boolean; trials: TrialRequest[]; trialTimeoutMs: number }): Promise<void> {
  if (request.devices) await post({ type: 'devices', devices: monitorDevices(Gst) });
  for (const t of request.trials) {
    await post({ type: 'trying', factory: t.factory });
    await post({ type: 'trial', trial: runTrial(Gst, t, request.trialTimeoutMs) });
  }
  answer({ type: 'probe' });
}

/** GStreamer device properties that say which node or object a device is, and what drives it. */
const DEVICE_PROPERTIES = [
  'device.path',
  'api.v4l2.path',
  'object.path',
  'device.api',
  'device.controls',
  'v4l2.device.driver',
  'v4l2.device.card',
  'device.bus',
];
/** Properties of a device's source element that select that device (as gst-device-monitor's launch lines show them). */
const ELEMENT_PROPERTIES = ['device', 'camera-name', 'target-object', 'path', 'device-path', 'device-name'];

/** Every video source the device providers announce (v4l2, libcamera, PipeWire, …), read once. */
function monitorDevices(Gst: Gst): RawDevice[] {
  const monitor = new Gst.DeviceMonitor();
  monitor.addFilter('Video/Source', null);
  // false when no provider handles video sources: then there are none.
  if (!monitor.start()) return [];
  try {
    return (monitor.getDevices() as any[]).map((d) => {
      const props = d.getProperties();
      const properties: Record<string, string> = {};
      for (const k of DEVICE_PROPERTIES) {
        const v = props?.getString(k);
        if (typeof v === 'string') properties[k] = v;
      }
      const device: RawDevice = {
        name: String(d.getDisplayName()),
        deviceClass: String(d.getDeviceClass()),
        caps: String(d.getCaps()?.toString() ?? ''),
        properties,
      };
      try {
        const el = d.createElement(null);
        const elementProps: Record<string, string> = {};
        for (const p of ELEMENT_PROPERTIES) {
          const v = el[p.replace(/-([a-z])/g, (_: string, c: string) => c.toUpperCase())];
          if (typeof v === 'string' && v) elementProps[p] = v;
        }
        return { ...device, factory: String(el.getFactory().getName()), elementProps };
      } catch (err) {
        return { ...device, error: `its source element could not be made: ${(err as Error).message}` };
      }
    });
  } finally {
    monitor.stop();
  }
}

/**
 * One trial: the pipeline runs to its end of stream (a few frames); it passes when the sink got a
 * buffer. A hardware element whose device node is missing or busy fails here, with GStreamer's error.
 */
function runTrial(Gst: Gst, t: TrialRequest, timeoutMs: number): ElementTrial {
  const missing = t.elements.find((e) => !Gst.ElementFactory.find(e));
  if (missing) return { factory: t.factory, ok: false, reason: `${missing} is not installed` };
  const started = performance.now();
  let pipeline: any;
  try {
    pipeline = Gst.parseLaunch(t.launch);
  } catch (err) {
    return { factory: t.factory, ok: false, reason: (err as Error).message };
  }
  const bus = pipeline.getBus();
  const error = (msg: any) => {
    const [err, debug] = msg.parseError();
    return `${String(err?.message ?? err)}${debug ? ` (${String(debug).split('\n')[0]})` : ''}`;
  };
  try {
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
      const msg = bus.popFiltered(Gst.MessageType.ERROR);
      return { factory: t.factory, ok: false, reason: msg ? error(msg) : 'the element refused to start' };
    }
    const msg = bus.timedPopFiltered(timeoutMs * 1_000_000, Gst.MessageType.EOS | Gst.MessageType.ERROR);
    if (!msg) return { factory: t.factory, ok: false, reason: `no frame within ${timeoutMs} ms` };
    if (msg.type === Gst.MessageType.ERROR) return { factory: t.factory, ok: false, reason: error(msg) };
    const out = pipeline.getByName(TRIAL_SINK)?.lastSample;
    if (!out) return { factory: t.factory, ok: false, reason: 'it produced nothing' };
    return { factory: t.factory, ok: true, ms: Math.round(performance.now() - started) };
  } finally {
    pipeline.setState(Gst.State.NULL);
  }
}
