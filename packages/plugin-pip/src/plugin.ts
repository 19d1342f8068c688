import { definePlugin, MEDIA_READ, MEDIA_WRITE, PLUGIN_API_VERSION, STAGE, v, type StateKeyDefinition, type StreamSettings } from '@camd/core';
import { DEFAULT_LAYOUT, layoutValidator, padProperties, type PipLayout } from './layout.js';

export const PLUGIN_NAME = '@camd/plugin-pip';
export const COMPOSITOR = 'camd_pip';

export const pipKeys = {
  pipEnabled: {
    key: 'pipEnabled',
    default: false,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'Picture-in-picture of the two sources on the primary stream (a change rebuilds it)',
  },
  pipLayout: {
    key: 'pipLayout',
    default: DEFAULT_LAYOUT,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: layoutValidator,
    description: 'Sources, corner, scale (0.1..0.5) and border of the inset (applied live)',
  },
} satisfies Record<string, StateKeyDefinition<any>>;

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

export default definePlugin({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Picture-in-picture: the secondary source inset into the primary stream with a compositor',
  stateKeys: pipKeys,
  setup(ctx) {
    const primary = () => ctx.streams.list()[0];
    const secondary = (): StreamSettings | undefined => ctx.streams.list()[1];
    // The inset reads the secondary stream's camera while that stream does too: one capture for both
    // (a device opens once). Test patterns need no sharing: each pipeline makes its own.
    const second = secondary();
    if (second?.source.kind === 'device') ctx.streams.shareSource(second.name);

    ctx.hooks.buildPipeline.tapPromise({ name: PLUGIN_NAME, stage: STAGE.COMPOSE }, async (spec) => {
      // Only the primary stream reads pipEnabled, so only it is rebuilt when PiP is switched.
      if (spec.stream.name !== primary()?.name || !ctx.settings.pipEnabled.get()) return spec;
      const { width: W, height: H, fps } = spec.stream;
      const layout = ctx.settings.pipLayout.get();
      const pads = padProperties(layout, W, H);
      // The secondary source is made at the size it is drawn at: the whole picture when it is the
      // main source, else the largest inset (scale 0.5; the compositor shrinks it to the current
      // scale). A test pattern rendered at 1080p60 only to be shrunk to an inset cost a third of a core.
      const secondaryIsMain = layout.mainSource === 'secondary';
      const [sw, sh] = secondaryIsMain ? [W, H] : [even(W / 2), even(H / 2)];
      const second = secondary();
      // The secondary source as its own stream would open it (its device, or its test pattern).
      const source = second ? await ctx.hooks.resolveSource.promise({ ...second, width: W, height: H, fps }) : undefined;
      if (!source) ctx.logger.warn('pip: no secondary stream configured; the inset shows a test pattern');
      const caps = (w: number, h: number) => `video/x-raw,format=I420,width=${w},height=${h},framerate=${fps}/1`;
      const padText = (name: string, p: Record<string, number>) =>
        Object.entries(p)
          .map(([k, val]) => `${name}::${k}=${val}`)
          .join(' ');
      spec.filters.push({
        owner: PLUGIN_NAME,
        // Output starts at the first input's running time: the media process gives every pipeline one
        // base time, so a pipeline started later sees running times far from zero, and the default
        // (output from zero) would first render a black frame for every moment since.
        launch: `compositor name=${COMPOSITOR} background=black start-time-selection=first ${padText('sink_0', pads.sink_0)} ${padText('sink_1', pads.sink_1)} ${padText('sink_2', pads.sink_2)} ! ${caps(W, H)}`,
        elements: ['compositor'],
        // A new layout moves the inset in the running compositor: no rebuild, no gap.
        live: {
          pipLayout: async (handle, value) => {
            const next = value as PipLayout;
            // Which source fills the picture decides the size the secondary is made at: a rebuild.
            if ((next.mainSource === 'secondary') !== secondaryIsMain) throw new Error('the main source changed');
            for (const [pad, values] of Object.entries(padProperties(next, W, H))) {
              for (const [k, val] of Object.entries(values)) await handle.setPadProperty(COMPOSITOR, pad, k, val);
            }
          },
        },
      });
      spec.branches.push(
        { owner: PLUGIN_NAME, launch: `videotestsrc is-live=true pattern=white ! ${caps(16, 16)} ! ${COMPOSITOR}.sink_1`, elements: ['videotestsrc'] },
        {
          owner: PLUGIN_NAME,
          launch: `${source?.launch ?? 'videotestsrc is-live=true pattern=ball'} ! videoconvert ! videoscale ! videorate ! ${caps(sw, sh)} ! queue max-size-buffers=2 leaky=downstream ! ${COMPOSITOR}.sink_2`,
          elements: [...(source?.elements ?? ['videotestsrc']), 'videoconvert', 'videoscale', 'videorate', 'queue'],
        },
      );
      return spec;
    });
  },
});
