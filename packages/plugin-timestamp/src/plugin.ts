import { definePlugin, MEDIA_READ, MEDIA_WRITE, PLUGIN_API_VERSION, STAGE, v, type PipelineFragment, type PipelineHandle, type StateKeyDefinition } from '@camd/core';
import { CODE_ELEMENT, codeLaunch } from './timecode.js';
import { DEFAULT_FORMAT, FORMAT_PATTERN, glibFormat } from './format.js';
import { CORNERS, textLayout, type Corner } from './layout.js';

export const PLUGIN_NAME = '@camd/plugin-timestamp';
export type { Corner } from './layout.js';

/** Names of the overlay elements in the pipeline. */
export const ELEMENT = { text: 'camd_ts_text', code: CODE_ELEMENT } as const;

export const timestampKeys = {
  timestampEnabled: { key: 'timestampEnabled', default: true, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.bool(), description: 'Burn the capture date and time into every frame' },
  timestampFormat: {
    key: 'timestampFormat',
    default: DEFAULT_FORMAT,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.string({ maxLength: 64, pattern: FORMAT_PATTERN, describe: 'pattern of YYYY MM DD HH mm ss SSS and separators " .:/T_-"' }),
    description: 'Text of the timestamp (local time of the camera); SSS shows six digits, milliseconds then microseconds',
  },
  timestampPosition: { key: 'timestampPosition', default: 'top-left', permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.oneOf(CORNERS), description: 'Corner of the timestamp text (top-right: below the time code)' },
  timestampSize: {
    key: 'timestampSize',
    default: 0,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 0, max: 200 }),
    description: 'Font size in px (0: 1/20 of the picture height); smaller when the whole text would not fit',
  },
  timecodeEnabled: { key: 'timecodeEnabled', default: true, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.bool(), description: 'Machine-readable capture time code (µs since the epoch, top-right), for glass-to-glass latency' },
} satisfies Record<string, StateKeyDefinition<any>>;

export interface OverlaySettings {
  enabled: boolean;
  format: string;
  corner: Corner;
  size: number;
  timecode: boolean;
}

/**
 * The overlays for a picture of this size: native elements only, no code per frame. Two `timeoverlay`s
 * draw base time + running time, i.e. the frame's capture wall-clock time: as a date for people, and
 * as the machine-readable time code (see timecode.ts). The base time reaches them as their
 * `datetime-epoch`, set by the media process as the pipeline starts. Both stay in the pipeline when
 * switched off (`silent`), so every setting applies live.
 */
export function overlayFragment(width: number, height: number, s: OverlaySettings): PipelineFragment {
  const t = textLayout({ width, height, format: s.format, corner: s.corner, size: s.size, timecode: s.timecode });
  const text =
    `timeoverlay name=${ELEMENT.text} silent=${!s.enabled} show-times-as-dates=true time-mode=running-time ` +
    `datetime-format="${glibFormat(s.format)}" auto-resize=false wrap-mode=none shaded-background=true shading-value=160 draw-shadow=false ` +
    `halignment=${t.halignment} valignment=${t.valignment} xpad=${t.xpad} ypad=${t.ypad} font-desc="${t['font-desc']}"`;
  return {
    owner: PLUGIN_NAME,
    launch: `${text} ! ${codeLaunch(width, height, !s.timecode)}`,
    elements: ['timeoverlay'],
    startProperties: [
      { element: ELEMENT.text, property: 'datetime-epoch', value: 'baseTime.dateTime' },
      { element: ELEMENT.code, property: 'datetime-epoch', value: 'baseTime.dateTime' },
    ],
  };
}

export default definePlugin({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Timestamp overlay with milliseconds and a machine-readable capture time code',
  stateKeys: Object.values(timestampKeys),
  setup(ctx) {
    const get = <T>(k: keyof typeof timestampKeys) => ctx.state.get<T>(k);
    const settings = (): OverlaySettings => ({
      enabled: get<boolean>('timestampEnabled'),
      format: get<string>('timestampFormat'),
      corner: get<Corner>('timestampPosition'),
      size: get<number>('timestampSize'),
      timecode: get<boolean>('timecodeEnabled'),
    });
    ctx.hooks.buildPipeline.tapPromise({ name: PLUGIN_NAME, stage: STAGE.OVERLAY }, async (spec) => {
      spec.filters.push(overlayFragment(spec.stream.width, spec.stream.height, settings()));
      return spec;
    });

    // Every setting applies to the running overlays.
    const handles = new Map<string, PipelineHandle>();
    ctx.hooks.pipelineStarted.tap(PLUGIN_NAME, (h) => void handles.set(h.stream, h));
    ctx.hooks.pipelineStopped.tap(PLUGIN_NAME, (e) => void handles.delete(e.stream));
    const live = async (fn: (h: PipelineHandle, width: number, height: number) => Promise<void>) => {
      for (const [stream, h] of handles) {
        const s = ctx.streams.get(stream);
        if (s) await fn(h, s.width, s.height).catch((err) => ctx.logger.warn({ err, stream }, 'timestamp: live change failed'));
      }
    };
    async function applyText(h: PipelineHandle, width: number, height: number) {
      const s = settings();
      const t = textLayout({ width, height, format: s.format, corner: s.corner, size: s.size, timecode: s.timecode });
      for (const k of ['font-desc', 'halignment', 'valignment', 'xpad', 'ypad'] as const) await h.setProperty(ELEMENT.text, k, t[k]);
    }
    const offs = [
      ctx.state.watch<boolean>('timestampEnabled', (c) => void live((h) => h.setProperty(ELEMENT.text, 'silent', !c.value))),
      ctx.state.watch<string>('timestampFormat', (c) =>
        void live(async (h, w, hgt) => {
          await applyText(h, w, hgt);
          await h.setProperty(ELEMENT.text, 'datetime-format', glibFormat(c.value));
        }),
      ),
      ctx.state.watch('timestampPosition', () => void live(applyText)),
      ctx.state.watch('timestampSize', () => void live(applyText)),
      ctx.state.watch<boolean>('timecodeEnabled', (c) =>
        void live(async (h, w, hgt) => {
          // Off: hide the code, then widen the text; on: narrow the text, then show the code.
          if (!c.value) await h.setProperty(ELEMENT.code, 'silent', true);
          await applyText(h, w, hgt);
          if (c.value) await h.setProperty(ELEMENT.code, 'silent', false);
        }),
      ),
    ];
    ctx.onClose(() => offs.forEach((off) => off()));
  },
});
