import {
  definePlugin,
  MEDIA_READ,
  MEDIA_WRITE,
  PLUGIN_API_VERSION,
  STAGE,
  v,
  type PipelineFragment,
  type PipelineHandle,
  type StateKeyDefinition,
} from '@camd/core';
import { CODE_ELEMENT, codeLaunch } from './timecode.js';
import { DEFAULT_FORMAT, FORMAT_DESCRIPTION, FORMAT_PATTERN, glibFormat } from './format.js';
import { CORNERS, textLayout, type Corner } from './layout.js';

export const PLUGIN_NAME = '@camd/plugin-timestamp';
export type { Corner } from './layout.js';

/** Names of the overlay elements in the pipeline. */
export const ELEMENT = { text: 'camd_ts_text', code: CODE_ELEMENT } as const;

export const timestampKeys = {
  timestampEnabled: {
    key: 'timestampEnabled',
    default: true,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'Burn the capture date and time into every frame',
  },
  timestampFormat: {
    key: 'timestampFormat',
    default: DEFAULT_FORMAT,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.string({ maxLength: 64, pattern: FORMAT_PATTERN, describe: FORMAT_DESCRIPTION }),
    description: 'Text of the timestamp (local time of the camera); SSS milliseconds (at the end), SSSSSS microseconds',
  },
  timestampPosition: {
    key: 'timestampPosition',
    default: 'top-left',
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.oneOf(CORNERS),
    description: 'Corner of the timestamp text (top-right: below the time code)',
  },
  timestampSize: {
    key: 'timestampSize',
    default: 0,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 0, max: 200 }),
    description: 'Font size in px (0: 1/20 of the picture height); smaller when the whole text would not fit',
  },
  timecodeEnabled: {
    key: 'timecodeEnabled',
    default: false,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'Machine-readable capture time code (µs since the epoch, top-right), for measuring glass-to-glass latency; off by default',
  },
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
 * switched off (`silent`), so every setting applies live: `current` gives the settings at the time of
 * a change.
 */
export function overlayFragment(width: number, height: number, s: OverlaySettings, current: () => OverlaySettings = () => s): PipelineFragment {
  const layout = (now: OverlaySettings) => textLayout({ width, height, format: now.format, corner: now.corner, size: now.size, timecode: now.timecode });
  const t = layout(s);
  const text =
    `timeoverlay name=${ELEMENT.text} silent=${!s.enabled} show-times-as-dates=true time-mode=running-time ` +
    `datetime-format="${glibFormat(s.format)}" auto-resize=false wrap-mode=char shaded-background=true shading-value=160 draw-shadow=false ` +
    `halignment=left valignment=top xpad=${t.xpad} ypad=${t.ypad} deltax=${t.deltax} deltay=${t.deltay} font-desc="${t['font-desc']}"`;
  const applyText = async (h: PipelineHandle) => {
    const l = layout(current());
    for (const k of ['font-desc', 'xpad', 'ypad', 'deltax', 'deltay'] as const) await h.setProperty(ELEMENT.text, k, l[k]);
  };
  return {
    owner: PLUGIN_NAME,
    launch: `${text} ! ${codeLaunch(width, height, !s.timecode)}`,
    elements: ['timeoverlay'],
    startProperties: [
      { element: ELEMENT.text, property: 'datetime-epoch', value: 'baseTime.dateTime' },
      { element: ELEMENT.code, property: 'datetime-epoch', value: 'baseTime.dateTime' },
    ],
    live: {
      timestampEnabled: async (h, on) => {
        if (!on && !current().timecode) return 'rebuild';
        await h.setProperty(ELEMENT.text, 'silent', !on);
      },
      timestampFormat: async (h, format) => {
        await applyText(h);
        await h.setProperty(ELEMENT.text, 'datetime-format', glibFormat(format as string));
      },
      timestampPosition: applyText,
      timestampSize: applyText,
      // Off: hide the code, then widen the text; on: narrow the text, then show the code.
      timecodeEnabled: async (h, on) => {
        if (!on && !current().enabled) return 'rebuild';
        if (!on) await h.setProperty(ELEMENT.code, 'silent', true);
        await applyText(h);
        if (on) await h.setProperty(ELEMENT.code, 'silent', false);
      },
    },
  };
}

export interface TimestampOptions {
  /**
   * `timecodeEnabled` at every start (a change through the API lasts until the next start); leave out
   * to keep the stored setting. Benchmarks and latency measurements set it.
   */
  timecode?: boolean;
}

export default definePlugin<TimestampOptions, typeof timestampKeys>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Timestamp overlay with milliseconds and a machine-readable capture time code',
  stateKeys: timestampKeys,
  optionsSchema: { type: 'object', additionalProperties: false, properties: { timecode: { type: 'boolean' } } },
  async setup(ctx) {
    if (ctx.options.timecode !== undefined) await ctx.settings.timecodeEnabled.set(ctx.options.timecode);
    const settings = (): OverlaySettings => ({
      enabled: ctx.settings.timestampEnabled.get(),
      format: ctx.settings.timestampFormat.get(),
      corner: ctx.settings.timestampPosition.get() as Corner,
      size: ctx.settings.timestampSize.get(),
      timecode: ctx.settings.timecodeEnabled.get(),
    });
    // Reading the settings here makes every stream's pipeline depend on them; the fragment applies
    // each of them live. With the text and the time code both off there is no fragment at all: no
    // filter then needs raw frames, and a camera's own H.264 can be passed through (turning either on
    // again rebuilds the pipeline with the overlay; turning the last one off rebuilds it without).
    ctx.hooks.buildPipeline.tapPromise({ name: PLUGIN_NAME, stage: STAGE.OVERLAY }, async (spec) => {
      const s = settings();
      if (s.enabled || s.timecode) spec.filters.push(overlayFragment(spec.stream.width, spec.stream.height, s, settings));
      return spec;
    });
  },
});
