import { fileURLToPath } from 'node:url';
import { definePlugin, MEDIA_READ, MEDIA_WRITE, PLUGIN_API_VERSION, STAGE, v, type PipelineHandle, type StateKeyDefinition } from '@camd/core';
import { codeGeometry } from './timecode.js';
import { DEFAULT_FORMAT, FORMAT_PATTERN } from './format.js';
import { ELEMENT, type OverlayWorkerOptions } from './worker-overlay.js';

export const PLUGIN_NAME = '@camd/plugin-timestamp';
const WORKER_MODULE = fileURLToPath(new URL('./worker-overlay.ts', import.meta.url));

export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
const CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'] as const;

export const timestampKeys = {
  timestampEnabled: { key: 'timestampEnabled', default: true, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.bool(), description: 'Burn the capture date and time into every frame' },
  timestampFormat: {
    key: 'timestampFormat',
    default: DEFAULT_FORMAT,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.string({ maxLength: 64, pattern: FORMAT_PATTERN, describe: 'pattern of YYYY MM DD HH mm ss SSS and separators " .:/T_-"' }),
    description: 'Text of the timestamp (local time of the camera)',
  },
  timestampPosition: { key: 'timestampPosition', default: 'top-left', permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.oneOf(CORNERS), description: 'Corner of the timestamp text' },
  timestampSize: { key: 'timestampSize', default: 0, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.int({ min: 0, max: 200 }), description: 'Font size in px (0: 1/24 of the picture height)' },
  timecodeEnabled: { key: 'timecodeEnabled', default: true, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.bool(), description: 'Machine-readable capture time code (top-right), for glass-to-glass latency' },
} satisfies Record<string, StateKeyDefinition<any>>;

function textProps(corner: Corner, size: number, height: number): Record<string, string | number> {
  const px = size || Math.max(10, Math.round(height / 24));
  const [valign, halign] = corner.split('-') as ['top' | 'bottom', 'left' | 'right'];
  return { valignment: valign, halignment: halign, 'font-desc': `Monospace ${Math.round(px * 0.75)}` };
}

export default definePlugin({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Timestamp overlay with milliseconds and a machine-readable capture time code',
  stateKeys: Object.values(timestampKeys),
  setup(ctx) {
    const get = <T>(k: keyof typeof timestampKeys) => ctx.state.get<T>(k);
    ctx.hooks.buildPipeline.tapPromise({ name: PLUGIN_NAME, stage: STAGE.OVERLAY }, async (spec) => {
      const { width, height } = spec.stream;
      const text = textProps(get<Corner>('timestampPosition'), get<number>('timestampSize'), height);
      const g = codeGeometry(width, height);
      const options: OverlayWorkerOptions = { format: get<string>('timestampFormat'), width, height };
      spec.filters.push({
        owner: PLUGIN_NAME,
        launch:
          `identity name=${ELEMENT.clock} signal-handoffs=true ! ` +
          `textoverlay name=${ELEMENT.text} silent=${!get<boolean>('timestampEnabled')} text=" " shaded-background=true ` +
          `valignment=${text.valignment} halignment=${text.halignment} font-desc="${text['font-desc']}" ! ` +
          `gdkpixbufoverlay name=${ELEMENT.code} offset-x=${g.x} offset-y=${g.y} alpha=${get<boolean>('timecodeEnabled') ? 1 : 0}`,
        elements: ['identity', 'textoverlay', 'gdkpixbufoverlay'],
        workerModules: [{ module: WORKER_MODULE, options }],
      });
      return spec;
    });

    // Live changes go to the running overlays; a new format needs the worker to restart.
    const handles = new Map<string, PipelineHandle>();
    ctx.hooks.pipelineStarted.tap(PLUGIN_NAME, (h) => void handles.set(h.stream, h));
    ctx.hooks.pipelineStopped.tap(PLUGIN_NAME, (e) => void handles.delete(e.stream));
    const live = async (fn: (h: PipelineHandle, height: number) => Promise<void>) => {
      for (const [stream, h] of handles) {
        const s = ctx.streams.get(stream);
        if (s) await fn(h, s.height).catch((err) => ctx.logger.warn({ err, stream }, 'timestamp: live change failed'));
      }
    };
    const offs = [
      ctx.state.watch<boolean>('timestampEnabled', (c) => void live((h) => h.setProperty(ELEMENT.text, 'silent', !c.value))),
      ctx.state.watch<boolean>('timecodeEnabled', (c) => void live((h) => h.setProperty(ELEMENT.code, 'alpha', c.value ? 1 : 0))),
      ctx.state.watch('timestampPosition', () => void live(applyText)),
      ctx.state.watch('timestampSize', () => void live(applyText)),
      ctx.state.watch('timestampFormat', () => {
        for (const s of ctx.streams.list()) void ctx.streams.restart(s.name);
      }),
    ];
    async function applyText(h: PipelineHandle, height: number) {
      const p = textProps(get<Corner>('timestampPosition'), get<number>('timestampSize'), height);
      for (const [k, val] of Object.entries(p)) await h.setProperty(ELEMENT.text, k, val);
    }
    ctx.onClose(() => offs.forEach((off) => off()));
  },
});
