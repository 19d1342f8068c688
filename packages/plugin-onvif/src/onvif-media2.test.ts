import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import onvif from './index.js';
import { soap, values } from './onvif-test-utils.js';

const run = promisify(execFile);
type Callback = (err: Error | null, result: any) => void;
const { Cam } = createRequire(import.meta.url)('onvif') as {
  Cam: new (opts: Record<string, unknown>, cb: (err: Error | null) => void) => Record<string, (...args: any[]) => void> & Record<string, any>;
};

/**
 * The `onvif` library (agsh/onvif) switches to Media2 when GetServices lists it, as Profile T NVRs
 * do; onvif-nvt 0.3.3 has no Media2 (its media module speaks ver10 only), so the refusals below are
 * hand-built SOAP.
 */
async function connect(port: number, username: string, password: string) {
  return new Promise<any>((resolve, reject) => {
    const cam = new Cam({ hostname: '127.0.0.1', port, username, password, timeout: 10_000, preserveAddress: true }, (err) =>
      err ? reject(err) : resolve(cam),
    );
  });
}
const call = <T = any>(cam: any, method: string, ...args: unknown[]) =>
  new Promise<T>((resolve, reject) => cam[method](...args, ((err, r) => (err ? reject(err) : resolve(r))) as Callback));

const TR2 = 'xmlns="http://www.onvif.org/ver20/media/wsdl"';
const TT = 'xmlns:tt="http://www.onvif.org/ver10/schema"';

describe('ONVIF Media2 with the onvif library and a real stream', () => {
  let h: TestHost;
  let rtspPort: number;
  beforeAll(async () => {
    rtspPort = await freePort();
    h = await createTestHost({
      plugins: [
        { def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { streams: [testStream()] },
    });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('is found through GetServices; profiles, stream URI (played by ffprobe), snapshot URI, encoder configurations and options, and a change', async () => {
    const cam = await connect(h.httpPort, 'operator', 'operator-secret');
    expect(cam.media2Support).toBe(true);
    expect(cam.uri.media2.href).toBe(`http://127.0.0.1:${h.httpPort}/onvif/media2_service`);
    expect(cam.profiles.map((p: any) => p.$.token)).toEqual(['profile_stream1']);
    expect(cam.activeSource.encoding).toBe('H264');

    const stream = await call(cam, 'getStreamUri', { protocol: 'RTSP' });
    expect(stream.uri).toBe(`rtsp://127.0.0.1:${rtspPort}/stream1`);
    const { stdout } = await run(
      'ffprobe',
      [
        '-v',
        'error',
        '-rtsp_transport',
        'tcp',
        '-show_entries',
        'stream=codec_name,width,height',
        '-of',
        'csv=p=0',
        stream.uri.replace('rtsp://', 'rtsp://operator:operator-secret@'),
      ],
      { timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('h264,320,240');

    const snap = await call(cam, 'getSnapshotUri', {});
    expect(snap.uri).toBe(`http://127.0.0.1:${h.httpPort}/api/streams/stream1/snapshot.jpg`);
    const jpeg = await fetch(snap.uri, { headers: { authorization: basicAuth(h.users.viewer) } });
    expect(jpeg.status).toBe(200);
    expect(Buffer.from(await jpeg.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    const [config] = await call<any[]>(cam, 'getVideoEncoderConfigurations');
    expect(config).toMatchObject({ $: { token: 'vec_stream1', GovLength: 15, Profile: 'Main' }, encoding: 'H264', resolution: { width: 320, height: 240 } });
    expect(config.rateControl.bitrateLimit).toBe(500);

    const options = await call<any>(cam, 'getVideoEncoderConfigurationOptions', { configurationToken: 'vec_stream1' });
    const xml = JSON.stringify(options);
    for (const encoding of ['H264', 'H265', 'JPEG']) expect(xml).toContain(`"${encoding}"`);

    // The library sends the configuration back as it read it (Media2: GovLength and Profile as attributes).
    const after = await call<any[]>(cam, 'setVideoEncoderConfiguration', { ...config, rateControl: { ...config.rateControl, bitrateLimit: 700 } });
    expect(after[0].rateControl.bitrateLimit).toBe(700);
    expect((await h.fetch('/api/state/streamBitrate').then((r) => r.json())).value).toBe(700_000);
  });
});

describe('ONVIF Media2 requests and refusals (hand-built SOAP)', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({
      media: false,
      plugins: [
        { def: rtsp, options: { port: await freePort(), host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { streams: [testStream(), testStream({ path: '/stream2', resolution: '640x360', fps: 30 })] },
    });
  });
  afterAll(async () => h?.close());
  const media2 = (body: string, user: { username: string; password: string } | null = h.users.operator) => soap(h.baseUrl, 'media2', body, user ?? undefined);
  const state = async (key: string) => (await h.fetch(`/api/state/${key}`).then((r) => r.json())).value;
  const setConfig = (attrs: string, inner: string, user = h.users.operator) =>
    media2(
      `<SetVideoEncoderConfiguration ${TR2} ${TT}><Configuration token="vec_stream2"${attrs}>${inner}</Configuration></SetVideoEncoderConfiguration>`,
      user,
    );

  it('GetServices lists Media2 with its capabilities', async () => {
    const r = await soap(h.baseUrl, 'device', '<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>');
    expect(r.status).toBe(200);
    expect(values(r.text, 'Namespace')).toContain('http://www.onvif.org/ver20/media/wsdl');
    expect(values(r.text, 'XAddr')).toContain(`${h.baseUrl}/onvif/media2_service`);
    expect(r.text).toMatch(/<tr2:StreamingCapabilities RTSPStreaming="true"/);
  });

  it('GetProfiles: configurations only for the Types asked; one profile by Token', async () => {
    const bare = await media2(`<GetProfiles ${TR2}/>`);
    expect(bare.status).toBe(200);
    expect(bare.text.match(/<tr2:Profiles /g)).toHaveLength(2);
    expect(bare.text).not.toContain('<tr2:Configurations>');
    const all = await media2(`<GetProfiles ${TR2}><Token>profile_stream2</Token><Type>All</Type></GetProfiles>`);
    expect(all.text.match(/<tr2:Profiles /g)).toHaveLength(1);
    expect(all.text).toContain('<tr2:VideoEncoder token="vec_stream2" GovLength="30" Profile="Main">');
    expect(values(all.text, 'Encoding')).toEqual(['H264']);
    const stream = await media2(`<GetStreamUri ${TR2}><Protocol>RtspOverHttp</Protocol><ProfileToken>profile_stream2</ProfileToken></GetStreamUri>`);
    expect(values(stream.text, 'Uri')[0]).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/stream2$/);
  });

  it('a wrong password is refused, and so is a change by a viewer', async () => {
    const wrong = await media2(`<GetProfiles ${TR2}/>`, { username: 'operator', password: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('ter:NotAuthorized');
    expect(wrong.text).not.toContain('<tr2:Profiles');
    const none = await media2(`<GetProfiles ${TR2}/>`, null);
    expect(none.status).toBe(401);
    const viewer = await setConfig('', '<tt:RateControl><tt:BitrateLimit>900</tt:BitrateLimit></tt:RateControl>', h.users.viewer);
    expect(viewer.text).toContain('ter:NotAuthorized');
    expect(await state('stream2.streamBitrate')).toBe(500_000);
  });

  it('bad values are SOAP faults and change nothing, even the valid parts of the request', async () => {
    const odd = await setConfig(
      '',
      '<tt:Resolution><tt:Width>321</tt:Width><tt:Height>240</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>10</tt:FrameRateLimit></tt:RateControl>',
    );
    expect(odd.status).toBe(400);
    expect(values(odd.text, 'Value')).toEqual(['env:Sender', 'ter:InvalidArgVal', 'ter:ConfigModify']);
    expect(await state('stream2.streamFramerate')).toBe(30);
    for (const [attrs, inner, reason] of [
      ['', '<tt:Encoding>MPEG4</tt:Encoding>', /MPEG4 is not one of H264, H265, JPEG/],
      [' Profile="Extended"', '<tt:Encoding>H264</tt:Encoding>', /Profile Extended/],
      [' GovLength="99"', '', /GovLength 99 cannot be changed/],
      ['', '<tt:RateControl><tt:BitrateLimit>lots</tt:BitrateLimit></tt:RateControl>', /BitrateLimit &quot;lots&quot; is not a number/],
      ['', '<tt:RateControl><tt:FrameRateLimit>1000</tt:FrameRateLimit></tt:RateControl>', /streamFramerate/],
    ] as const) {
      const r = await setConfig(attrs, inner);
      expect(r.status, inner).toBe(400);
      expect(r.text).toContain('ter:ConfigModify');
      expect(values(r.text, 'Text')[0]).toMatch(reason);
    }
    const multicast = await media2(`<GetStreamUri ${TR2}><Protocol>RtspMulticast</Protocol><ProfileToken>profile_stream1</ProfileToken></GetStreamUri>`);
    expect(values(multicast.text, 'Value')).toEqual(['env:Sender', 'ter:InvalidArgVal', 'ter:InvalidStreamSetup']);
    const noProfile = await media2(`<GetSnapshotUri ${TR2}><ProfileToken>nope</ProfileToken></GetSnapshotUri>`);
    expect(values(noProfile.text, 'Value')).toEqual(['env:Sender', 'ter:InvalidArgVal', 'ter:NoProfile']);
  });

  it('SetVideoEncoderConfiguration goes through the state store: codec, size, rate, bitrate, H.264 profile', async () => {
    const ok = await setConfig(
      ' GovLength="30" Profile="High"',
      '<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>480</tt:Width><tt:Height>270</tt:Height></tt:Resolution><tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:BitrateLimit>900</tt:BitrateLimit></tt:RateControl>',
    );
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('<tr2:SetVideoEncoderConfigurationResponse/>');
    expect(await state('stream2.streamResolution')).toBe('480x270');
    expect(await state('stream2.streamFramerate')).toBe(25);
    expect(await state('stream2.streamBitrate')).toBe(900_000);
    expect(await state('stream2.encoderProfile')).toBe('high');
    const h265 = await setConfig(' Profile="Main"', '<tt:Encoding>H265</tt:Encoding>');
    expect(h265.status).toBe(200);
    expect(await state('stream2.videoEncoder')).toBe('h265');
    const jpeg = await setConfig('', '<tt:Encoding>JPEG</tt:Encoding>');
    expect(jpeg.status).toBe(200);
    expect(await state('stream2.videoEncoder')).toBe('mjpeg');
    // The primary stream was never touched.
    expect(await state('videoEncoder')).toBe('h264');
  });
});
