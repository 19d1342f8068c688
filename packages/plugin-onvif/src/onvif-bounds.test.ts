import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, type TestHost } from '@camd/core/testing';
import onvif from './index.js';
import { soap, values } from './onvif-test-utils.js';

const require = createRequire(import.meta.url);
const OnvifManager = require('onvif-nvt') as { connect(address: string, port: number, user?: string, pass?: string): Promise<any> };
const { Cam } = require('onvif') as { Cam: new (opts: Record<string, unknown>, cb: (err: Error | null) => void) => any };

const call = <T = any>(cam: any, method: string, ...args: unknown[]) =>
  new Promise<T>((resolve, reject) => cam[method](...args, (err: Error | null, r: T) => (err ? reject(err) : resolve(r))));
/** The fault text of a Set the onvif library reports as failed (it replaces the fault's reason with its own message, and passes the reply). */
const refusal = (cam: any, config: unknown) =>
  new Promise<string>((resolve, reject) =>
    cam.setVideoEncoderConfiguration(config, (err: Error | null, _data: unknown, xml: string) =>
      err ? resolve(values(String(xml), 'Text')[0] ?? '') : reject(new Error('accepted')),
    ),
  );
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * ONVIF clients pick sizes and rates from GetVideoEncoderConfigurationOptions: it must list exactly
 * what a change accepts. stream1 (640x360@30, 6.9 Mpx/s) leaves stream2 5.1 Mpx/s of a 12 Mpx/s
 * budget: at its 15 fps, sizes up to 339,200 pixels; at its 320x240, up to 66 fps. No pipelines run
 * (`media: false`): the bounds are the state store's, the same with or without GStreamer.
 */
describe('ONVIF encoder options are exactly what a change accepts (core bounds)', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({
      media: false,
      plugins: [{ def: onvif, options: { discoveryPort: 0 } }],
      config: {
        streams: [testStream({ resolution: '640x360', fps: 30 }), testStream({ path: '/stream2', resolution: '320x240', fps: 15 })],
        media: { maxPixelRate: 12_000_000 },
      },
    });
  });
  afterAll(async () => h?.close());
  const put = (key: string, value: unknown) => putState(h, key, value, h.users.operator);
  const state = async (key: string) => (await h.fetch(`/api/state/${key}`).then((r) => r.json())).value;

  it('Media (onvif-nvt): every ResolutionsAvailable and FrameRateRange.Max is accepted by PUT, nothing beyond them is', async () => {
    const camera = await OnvifManager.connect('127.0.0.1', h.httpPort, 'operator', 'operator-secret');
    const options = (await camera.media.getVideoEncoderConfigurationOptions(null, 'vec_stream2')).data.GetVideoEncoderConfigurationOptionsResponse.Options;
    const sizes = list<{ Width: string; Height: string }>(options.H264.ResolutionsAvailable).map((r) => `${r.Width}x${r.Height}`);
    expect(sizes).toEqual(['640x480', '640x360', '480x270', '352x288', '320x240', '160x120']);
    expect(options.H264.FrameRateRange).toEqual({ Min: '1', Max: '66' });
    for (const size of sizes) {
      expect((await put('stream2.streamResolution', size)).status, size).toBe(200);
      expect((await put('stream2.streamResolution', '320x240')).status).toBe(200);
    }
    for (const size of ['800x600', '960x540', '1920x1080', '7680x7680']) expect((await put('stream2.streamResolution', size)).status, size).toBe(400);
    expect((await put('stream2.streamFramerate', 66)).status).toBe(200);
    expect((await put('stream2.streamFramerate', 15)).status).toBe(200);
    const refused = await put('stream2.streamFramerate', 67);
    expect(refused.status).toBe(400);
    expect((await refused.json()).message).toContain(
      'stream2.streamFramerate 67: the streams would encode 12.1 Mpx/s together, more than the pixel budget media.maxPixelRate (12.0 Mpx/s): ' +
        'the other streams use 6.9 Mpx/s, leaving 5.1 Mpx/s for stream2 (320x240 up to 66 fps)',
    );
    expect(await state('stream2.streamFramerate')).toBe(15);
  });

  it('Media2 (onvif library): the listed sizes and rates per codec; a Set beyond them is a SOAP fault that says what is allowed', async () => {
    const cam = await new Promise<any>((resolve, reject) => {
      const c = new Cam(
        { hostname: '127.0.0.1', port: h.httpPort, username: 'operator', password: 'operator-secret', timeout: 10_000, preserveAddress: true },
        (err) => (err ? reject(err) : resolve(c)),
      );
    });
    expect(cam.media2Support).toBe(true);
    const options = list<any>(await call(cam, 'getVideoEncoderConfigurationOptions', { configurationToken: 'vec_stream2' }));
    for (const o of options) {
      expect(list<any>(o.resolutionsAvailable).map((r) => `${r.width}x${r.height}`)).toEqual([
        '640x480',
        '640x360',
        '480x270',
        '352x288',
        '320x240',
        '160x120',
      ]);
      expect(String(o.$.FrameRatesSupported)).toBe('1 5 10 15 20 25 30 50 60 66');
    }
    expect(options.map((o) => o.encoding)).toEqual(['H264', 'H265', 'JPEG']);

    const [config] = (await call<any[]>(cam, 'getVideoEncoderConfigurations')).filter((c) => c.$.token === 'vec_stream2');
    expect(await refusal(cam, { ...config, resolution: { width: 800, height: 600 } })).toMatch(/leaving 5\.1 Mpx\/s for stream2 \(800x600 up to 10 fps\)/);
    expect(await state('stream2.streamResolution')).toBe('320x240');
    // Size and rate are checked together: 640x480 (at 15 fps) is listed, and so is 66 fps (at 320x240), but not both at once.
    await call(cam, 'setVideoEncoderConfiguration', { ...config, resolution: { width: 640, height: 480 } });
    expect(await state('stream2.streamResolution')).toBe('640x480');
    const both = { ...config, resolution: { width: 640, height: 480 }, rateControl: { ...config.rateControl, frameRateLimit: 66 } };
    expect(await refusal(cam, both)).toMatch(/640x480 up to 16 fps/);
    await call(cam, 'setVideoEncoderConfiguration', {
      ...config,
      resolution: { width: 320, height: 240 },
      rateControl: { ...config.rateControl, frameRateLimit: 66 },
    });
    expect([await state('stream2.streamResolution'), await state('stream2.streamFramerate')]).toEqual(['320x240', 66]);
    expect((await put('stream2.streamFramerate', 15)).status).toBe(200);
  });

  it('SetVideoSourceConfiguration: the source is used whole; other bounds are refused with the sizes allowed', async () => {
    const set = (bounds: string, user = h.users.operator) =>
      soap(
        h.baseUrl,
        'media',
        `<trt:SetVideoSourceConfiguration><trt:Configuration token="vsc_stream2"><tt:Name>stream2</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>vs_stream2</tt:SourceToken>${bounds}</trt:Configuration><trt:ForcePersistence>true</trt:ForcePersistence></trt:SetVideoSourceConfiguration>`,
        user,
      );
    expect((await set('<tt:Bounds x="0" y="0" width="320" height="240"/>')).status).toBe(200);
    const crop = await set('<tt:Bounds x="0" y="0" width="7680" height="7680"/>');
    expect(crop.status).toBe(400);
    expect(values(crop.text, 'Value')).toEqual(['env:Sender', 'ter:InvalidArgVal', 'ter:ConfigModify']);
    expect(values(crop.text, 'Text')[0]).toBe(
      'Bounds 0,0,7680,7680: the video source is used whole, its bounds are 0,0,320,240 (no cropping); the picture size is the Resolution of the encoder configuration (640x480, 640x360, 480x270, 352x288, 320x240, 160x120)',
    );
    expect((await set('<tt:Bounds x="0" y="0" width="320" height="240"/>', h.users.viewer)).text).toMatch(/ter:NotAuthorized/);
  });
});
