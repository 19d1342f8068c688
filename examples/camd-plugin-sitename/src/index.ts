/**
 * An example third-party plugin, as a vendor would write it: one state key, one route, a stats field
 * and a pipeline fragment, all through camd's public API.
 */
import { definePlugin, MEDIA_READ, MEDIA_WRITE, PLUGIN_API_VERSION, STAGE, v } from '@camd/core';

const PLUGIN_NAME = 'camd-plugin-sitename';

export interface SiteNameOptions {
  /** Where the name is drawn (GStreamer textoverlay valignment). */
  position: 'top' | 'bottom';
}

export const siteNameKey = {
  key: 'siteName',
  default: '',
  permissionRead: MEDIA_READ,
  permissionWrite: MEDIA_WRITE,
  validate: v.string({ maxLength: 64, pattern: /^[\p{L}\p{N} ._-]*$/u, describe: 'up to 64 letters, digits, spaces, . _ -' }),
  description: 'Name of the site, drawn into the picture when set',
};

export default definePlugin<SiteNameOptions>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'Site name in the picture and in the stats',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { position: { enum: ['top', 'bottom'], default: 'top' } },
  },
  stateKeys: [siteNameKey],
  setup(ctx) {
    const name = () => ctx.state.get<string>('siteName');

    ctx.http.register(async (app) => {
      app.get('/api/site', { preHandler: ctx.http.requirePermission(MEDIA_READ) }, async () => ({ siteName: name() }));
    });

    ctx.hooks.collectStats.tap(PLUGIN_NAME, (report) => {
      for (const stream of Object.keys(report)) (report[stream] as Record<string, unknown>).siteName = name();
      return report;
    });

    ctx.hooks.buildPipeline.tapPromise({ name: PLUGIN_NAME, stage: STAGE.OVERLAY }, async (spec) => {
      if (!name()) return spec;
      spec.filters.push({
        owner: PLUGIN_NAME,
        launch: `textoverlay name=sitename text="${name()}" valignment=${ctx.options.position} halignment=right font-desc="Sans 14"`,
        elements: ['textoverlay'],
        live: {
          siteName: async (pipeline, value) => {
            if (!value) throw new Error('no site name: remove the overlay by a rebuild');
            await pipeline.setProperty('sitename', 'text', value as string);
          },
        },
      });
      return spec;
    });
    // The name is read while the pipelines are built, so core applies a change itself; the text is
    // changed in the running overlay when there is one, and a rebuild adds or removes the overlay.
  },
});
