import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Stand-ins for camera-board hardware (packages/core/standins/python/camd_standins.py): GStreamer
 * elements written in Python under the hardware encoders' names (v4l2h264enc, vah264enc,
 * nvv4l2h264enc, mpph264enc, …) wrapping x264enc/x265enc/jpegenc with the real elements' properties
 * and units, and a device provider announcing test cameras (raw, MJPEG, H.264). They prove camd's
 * logic, not the boards. Needs Debian's gstreamer1.0-python3-plugin-loader and python3-gst-1.0.
 */

/** The device nodes the stand-in encoders open, as the real ones do (a missing one fails their trial). */
/** video10: a V4L2 JPEG decoder's (v4l2jpegdec); video11: the V4L2 encoders'. */
export type StandinNode = 'video10' | 'video11' | 'renderD128' | 'nvhost-msenc' | 'mpp_service';

/** A stand-in camera: one format, its modes, the V4L2 controls its driver has. */
export interface StandinCamera {
  readonly name: string;
  readonly format: 'raw' | 'jpeg' | 'h264';
  readonly modes: ReadonlyArray<{ readonly width: number; readonly height: number; readonly rates: readonly number[] }>;
  readonly controls?: readonly string[];
  /** videotestsrc's pattern (default `ball`). */
  readonly pattern?: string;
}

export interface Standins {
  /** Folder of the encoders' device nodes. */
  readonly nodes: string;
  /** Folder of the cameras (one JSON file each; its path is the camera's device path). */
  readonly cameras: string;
  /** The environment the media processes need (already set in `process.env` by `useStandins`). */
  readonly env: Readonly<Record<string, string>>;
  /** Creates (or removes) a hardware family's device node; `'hang'`: its element blocks for good when it opens it. */
  node(name: StandinNode, present: boolean | 'hang'): void;
  /** Plugs a camera in (writes its file); returns its device path. */
  plug(file: string, camera: StandinCamera): string;
  /** Unplugs a camera: a running pipeline reading it fails as v4l2src does. */
  unplug(file: string): void;
  /** Removes the folders and the private GStreamer registry. */
  cleanup(): void;
}

/** Folder whose `python/` subfolder holds the stand-in plugin (GST_PLUGIN_PATH). */
export const STANDINS_PLUGIN_PATH = fileURLToPath(new URL('../../standins', import.meta.url));

/**
 * Sets up the stand-ins for this process and the media processes it starts: GST_PLUGIN_PATH gains the
 * stand-in plugin, and GST_REGISTRY points at a registry file of this test's own (the machine's shared
 * cache, which other tests use in parallel, is not rewritten with elements only tests have). Call it
 * before the first host starts: the element registry is read once per process.
 */
export function useStandins(opts: { nodes?: readonly StandinNode[] } = {}): Standins {
  const root = mkdtempSync(join(tmpdir(), 'camd-standins-'));
  const nodes = join(root, 'nodes');
  const cameras = join(root, 'cameras');
  mkdirSync(nodes);
  mkdirSync(cameras);
  const env = {
    GST_PLUGIN_PATH: [STANDINS_PLUGIN_PATH, process.env.GST_PLUGIN_PATH].filter(Boolean).join(':'),
    GST_REGISTRY: join(root, 'registry.bin'),
    CAMD_STANDIN_NODES: nodes,
    CAMD_STANDIN_DEVICES: cameras,
  };
  Object.assign(process.env, env);
  const s: Standins = {
    nodes,
    cameras,
    env,
    node(name, present) {
      if (present) writeFileSync(join(nodes, name), present === 'hang' ? 'hang' : '');
      else rmSync(join(nodes, name), { force: true });
    },
    plug(file, camera) {
      const path = join(cameras, file);
      writeFileSync(path, JSON.stringify(camera));
      return path;
    },
    unplug(file) {
      rmSync(join(cameras, file), { force: true });
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  for (const n of opts.nodes ?? []) s.node(n, true);
  return s;
}
