import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestHost, putState, testStream, useStandins, type TestHost } from '@camd/core/testing';
import onvif from './index.js';

const require = createRequire(import.meta.url);
const OnvifManager = require('onvif-nvt') as { connect(address: string, port: number, user?: string, pass?: string): Promise<any> };
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * An NVR picks sizes and rates from GetVideoEncoderConfigurationOptions: on a real camera they are
 * what the device probe (GstDeviceMonitor) found it can deliver, scaled down, never up. The camera is
 * a stand-in (@camd/core/testing) that delivers raw 640x480 at up to 30 fps and 320x240 at 30.
 */
const standins = useStandins();

describe('ONVIF options from the device probe', () => {
  let h: TestHost;
  beforeAll(async () => {
    const cam = standins.plug('raw', {
      name: 'Stand-in raw camera',
      format: 'raw',
      modes: [
        { width: 640, height: 480, rates: [30, 15] },
        { width: 320, height: 240, rates: [30] },
      ],
    });
    h = await createTestHost({ plugins: [{ def: onvif, options: { discoveryPort: 0 } }], config: { streams: [testStream({ source: cam })] } });
  });
  afterAll(async () => {
    await h?.close();
    standins.cleanup();
  });

  it('lists only sizes within the camera’s modes and its highest rate; each is accepted, a larger one is not', async () => {
    // No RTSP plugin here: onvif-nvt logs each ter:NoRTSPStreaming answer whole (as in onvif-nvr.test.ts): captured, checked.
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    let camera: any;
    let logged: unknown[][];
    try {
      camera = await OnvifManager.connect('127.0.0.1', h.httpPort, 'operator', 'operator-secret');
    } finally {
      logged = [...spy.mock.calls];
      spy.mockRestore();
    }
    const faults = logged.map(([r]) => `${(r as { statusCode?: number }).statusCode} ${(r as { req?: { path?: string } }).req?.path}`);
    expect(faults, 'what onvif-nvt logged while connecting').toEqual(['UDP', 'HTTP', 'RTSP'].map(() => '400 /onvif/media_service'));
    const options = (await camera.media.getVideoEncoderConfigurationOptions(null, 'vec_stream1')).data.GetVideoEncoderConfigurationOptionsResponse.Options;
    const sizes = list<{ Width: string; Height: string }>(options.H264.ResolutionsAvailable).map((r) => `${r.Width}x${r.Height}`);
    expect(sizes).toEqual(['640x480', '640x360', '480x270', '352x288', '320x240', '160x120']);
    expect(options.H264.FrameRateRange).toEqual({ Min: '1', Max: '30' });
    expect((await putState(h, 'streamResolution', '640x480', h.users.operator)).status).toBe(200);
    const refused = await putState(h, 'streamResolution', '1280x720', h.users.operator);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /\(Stand-in raw camera\) delivers at most 640x480 up to 30 fps, 320x240 up to 30 fps \(GstDeviceMonitor/,
    );
  });
});
