import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import onvif from './index.js';
import { soap, values } from './onvif-test-utils.js';

const run = promisify(execFile);
const OnvifManager = createRequire(import.meta.url)('onvif-nvt') as { connect(address: string, port: number, user?: string, pass?: string): Promise<any> };

async function probeSize(url: string): Promise<string> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', url], {
    timeout: 30_000,
  });
  return stdout.trim();
}

describe('plugin-onvif Profile S operations', () => {
  let h: TestHost;
  let rtspPort: number;
  beforeAll(async () => {
    rtspPort = await freePort();
    h = await createTestHost({
      plugins: [
        { def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } },
        { def: onvif, options: { discoveryPort: 0 } },
      ],
      config: { streams: [testStream(), testStream({ path: '/stream2' })] },
    });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('SetVideoEncoderConfiguration by an operator changes the stream that ffprobe sees; a read-only user gets a fault and nothing changes', async () => {
    const camera = await OnvifManager.connect('127.0.0.1', h.httpPort, 'operator', 'operator-secret');
    const config = (await camera.media.getVideoEncoderConfiguration('vec_stream2')).data.GetVideoEncoderConfigurationResponse.Configuration;
    expect(config.Resolution).toEqual({ Width: '320', Height: '240' });
    const set = (user: { username: string; password: string }, width: number, height: number, fps: number, kbps: number) =>
      soap(
        h.baseUrl,
        'media',
        `<trt:SetVideoEncoderConfiguration><trt:Configuration token="vec_stream2"><tt:Name>stream2</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
          `<tt:Resolution><tt:Width>${width}</tt:Width><tt:Height>${height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
          `<tt:RateControl><tt:FrameRateLimit>${fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${kbps}</tt:BitrateLimit></tt:RateControl>` +
          `<tt:H264><tt:GovLength>${fps}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264></trt:Configuration><trt:ForcePersistence>true</trt:ForcePersistence></trt:SetVideoEncoderConfiguration>`,
        user,
      );
    const denied = await set(h.users.viewer, 640, 360, 10, 400);
    expect(denied.status).toBe(400);
    expect(denied.text).toMatch(/ter:NotAuthorized/);
    expect((await h.fetch('/api/state/stream2.streamResolution').then((r) => r.json())).value).toBe('320x240');
    const bad = await set(h.users.operator, 641, 360, 10, 400);
    expect(bad.text).toMatch(/ter:InvalidArgVal[\s\S]*ter:ConfigModify/);

    const ok = await set(h.users.operator, 640, 360, 10, 400);
    expect(ok.status).toBe(200);
    const state = async (k: string) => (await h.fetch(`/api/state/stream2.${k}`).then((r) => r.json())).value;
    expect([await state('streamResolution'), await state('streamFramerate'), await state('streamBitrate')]).toEqual(['640x360', 10, 400_000]);
    await expect.poll(() => probeSize(`rtsp://viewer:viewer-secret@127.0.0.1:${rtspPort}/stream2`), { timeout: 30_000, interval: 1000 }).toBe('640,360');
    const after = await soap(
      h.baseUrl,
      'media',
      '<trt:GetVideoEncoderConfiguration><trt:ConfigurationToken>vec_stream2</trt:ConfigurationToken></trt:GetVideoEncoderConfiguration>',
      h.users.viewer,
    );
    expect(values(after.text, 'Width')).toEqual(['640']);
    expect(values(after.text, 'FrameRateLimit')).toEqual(['10']);
  });

  it('media configuration reads: sources, source and encoder configurations, options, compatible configurations', async () => {
    const get = (body: string) => soap(h.baseUrl, 'media', body, h.users.viewer);
    expect(values((await get('<trt:GetVideoSources/>')).text, 'Width')).toHaveLength(2);
    expect((await get('<trt:GetVideoSourceConfigurations/>')).text).toMatch(/token="vsc_stream1"[\s\S]*token="vsc_stream2"/);
    expect(
      values(
        (await get('<trt:GetVideoSourceConfiguration><trt:ConfigurationToken>vsc_stream1</trt:ConfigurationToken></trt:GetVideoSourceConfiguration>')).text,
        'SourceToken',
      ),
    ).toEqual(['vs_stream1']);
    expect((await get('<trt:GetVideoEncoderConfigurations/>')).text).toMatch(/token="vec_stream1"[\s\S]*token="vec_stream2"/);
    expect(
      (
        await get(
          '<trt:GetCompatibleVideoEncoderConfigurations><trt:ProfileToken>profile_stream1</trt:ProfileToken></trt:GetCompatibleVideoEncoderConfigurations>',
        )
      ).text,
    ).toMatch(/token="vec_stream1"/);
    const options = (
      await get(
        '<trt:GetVideoEncoderConfigurationOptions><trt:ConfigurationToken>vec_stream1</trt:ConfigurationToken></trt:GetVideoEncoderConfigurationOptions>',
      )
    ).text;
    expect(values(options, 'H264ProfilesSupported')).toEqual(expect.arrayContaining(['Baseline', 'Main', 'High']));
    expect(options).toMatch(/<tt:Width>1920<\/tt:Width><tt:Height>1080<\/tt:Height>/);
    const missing = await get('<trt:GetVideoEncoderConfiguration><trt:ConfigurationToken>nope</trt:ConfigurationToken></trt:GetVideoEncoderConfiguration>');
    expect(missing.text).toMatch(/ter:InvalidArgVal[\s\S]*ter:NoProfile/);
    const caps = await soap(h.baseUrl, 'media', '<trt:GetServiceCapabilities/>');
    expect(caps.status).toBe(200);
    expect(caps.text).toMatch(/SnapshotUri="true"/);
  });

  it('device: scopes, discovery mode, hostname, network interfaces, WSDL URL, service capabilities', async () => {
    const admin = h.users.admin;
    const scopes = async () => values((await soap(h.baseUrl, 'device', '<tds:GetScopes/>', h.users.viewer)).text, 'ScopeItem');
    expect(await scopes()).toEqual(expect.arrayContaining(['onvif://www.onvif.org/Profile/Streaming', 'onvif://www.onvif.org/name/camd']));
    expect(
      (await soap(h.baseUrl, 'device', '<tds:AddScopes><tds:ScopeItem>onvif://www.onvif.org/location/hall</tds:ScopeItem></tds:AddScopes>', h.users.operator))
        .text,
    ).toMatch(/ter:NotAuthorized/);
    expect(
      (await soap(h.baseUrl, 'device', '<tds:AddScopes><tds:ScopeItem>onvif://www.onvif.org/location/hall</tds:ScopeItem></tds:AddScopes>', admin)).status,
    ).toBe(200);
    expect(await scopes()).toContain('onvif://www.onvif.org/location/hall');
    const fixed = await soap(
      h.baseUrl,
      'device',
      '<tds:RemoveScopes><tds:ScopeItem>onvif://www.onvif.org/Profile/Streaming</tds:ScopeItem></tds:RemoveScopes>',
      admin,
    );
    expect(fixed.text).toMatch(/ter:OperationProhibited[\s\S]*ter:FixedScope/);
    const removed = await soap(
      h.baseUrl,
      'device',
      '<tds:RemoveScopes><tds:ScopeItem>onvif://www.onvif.org/location/hall</tds:ScopeItem></tds:RemoveScopes>',
      admin,
    );
    expect(values(removed.text, 'ScopeItem')).toEqual(['onvif://www.onvif.org/location/hall']);
    await soap(
      h.baseUrl,
      'device',
      '<tds:SetScopes><tds:Scopes>onvif://www.onvif.org/name/lobby</tds:Scopes><tds:Scopes>onvif://www.onvif.org/location/door</tds:Scopes></tds:SetScopes>',
      admin,
    );
    expect(await scopes()).toEqual(expect.arrayContaining(['onvif://www.onvif.org/name/lobby', 'onvif://www.onvif.org/location/door']));
    expect(await scopes()).not.toContain('onvif://www.onvif.org/name/camd');

    expect(values((await soap(h.baseUrl, 'device', '<tds:GetDiscoveryMode/>', h.users.viewer)).text, 'DiscoveryMode')).toEqual(['Discoverable']);
    expect((await soap(h.baseUrl, 'device', '<tds:SetDiscoveryMode><tds:DiscoveryMode>Hidden</tds:DiscoveryMode></tds:SetDiscoveryMode>', admin)).text).toMatch(
      /ter:ConfigModify/,
    );
    await soap(h.baseUrl, 'device', '<tds:SetDiscoveryMode><tds:DiscoveryMode>NonDiscoverable</tds:DiscoveryMode></tds:SetDiscoveryMode>', admin);
    expect((await h.fetch('/api/state/onvifDiscoveryMode').then((r) => r.json())).value).toBe('NonDiscoverable');
    await soap(h.baseUrl, 'device', '<tds:SetDiscoveryMode><tds:DiscoveryMode>Discoverable</tds:DiscoveryMode></tds:SetDiscoveryMode>', admin);

    expect(values((await soap(h.baseUrl, 'device', '<tds:GetHostname/>', h.users.viewer)).text, 'Name')).toHaveLength(1);
    expect(values((await soap(h.baseUrl, 'device', '<tds:GetNetworkInterfaces/>', h.users.viewer)).text, 'Address')).toContain('127.0.0.1');
    // ONVIF Core pre-auth operations answer without credentials.
    for (const op of ['GetSystemDateAndTime', 'GetCapabilities', 'GetServices', 'GetServiceCapabilities', 'GetWsdlUrl']) {
      const r = await soap(h.baseUrl, 'device', `<tds:${op}/>`);
      expect([op, r.status, r.text]).toEqual([op, 200, expect.stringContaining(`<tds:${op}Response>`)]);
    }
    expect((await soap(h.baseUrl, 'device', '<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>')).text).toMatch(
      /<tds:Capabilities><trt:Capabilities SnapshotUri="true"/,
    );
    expect((await soap(h.baseUrl, 'device', '<tds:GetServiceCapabilities/>')).text).toMatch(/HttpDigest="true"/);
  });

  it('users: an administrator creates, changes and deletes users whose levels map onto camd permissions', async () => {
    const admin = h.users.admin;
    expect((await soap(h.baseUrl, 'device', '<tds:GetUsers/>', h.users.operator)).text).toMatch(/ter:NotAuthorized/);
    const created = await soap(
      h.baseUrl,
      'device',
      '<tds:CreateUsers><tds:User><tt:Username>nvr</tt:Username><tt:Password>nvr-secret</tt:Password><tt:UserLevel>Operator</tt:UserLevel></tds:User></tds:CreateUsers>',
      admin,
    );
    expect(created.status).toBe(200);
    const list = (await soap(h.baseUrl, 'device', '<tds:GetUsers/>', admin)).text;
    expect(list).toMatch(/<tt:Username>nvr<\/tt:Username><tt:UserLevel>Operator<\/tt:UserLevel>/);
    expect(list).toMatch(/<tt:Username>admin<\/tt:Username><tt:UserLevel>Administrator<\/tt:UserLevel>/);
    expect(list).not.toMatch(/secret/);
    // The new user works everywhere camd authenticates: the HTTP API with its Media_rw permission.
    expect(
      (
        await h.fetch('/api/state/streamBitrate', {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value: 600_000 }),
          user: { username: 'nvr', password: 'nvr-secret', permissions: [] },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await soap(
          h.baseUrl,
          'device',
          '<tds:CreateUsers><tds:User><tt:Username>nvr</tt:Username><tt:Password>another-1</tt:Password><tt:UserLevel>User</tt:UserLevel></tds:User></tds:CreateUsers>',
          admin,
        )
      ).text,
    ).toMatch(/ter:UsernameClash/);
    expect(
      (
        await soap(
          h.baseUrl,
          'device',
          '<tds:CreateUsers><tds:User><tt:Username>x</tt:Username><tt:Password>1</tt:Password><tt:UserLevel>User</tt:UserLevel></tds:User></tds:CreateUsers>',
          admin,
        )
      ).text,
    ).toMatch(/ter:Password/);
    await soap(
      h.baseUrl,
      'device',
      '<tds:SetUser><tds:User><tt:Username>nvr</tt:Username><tt:Password>nvr-secret-2</tt:Password><tt:UserLevel>User</tt:UserLevel></tds:User></tds:SetUser>',
      admin,
    );
    expect((await soap(h.baseUrl, 'device', '<tds:GetUsers/>', admin)).text).toMatch(/<tt:Username>nvr<\/tt:Username><tt:UserLevel>User<\/tt:UserLevel>/);
    expect((await soap(h.baseUrl, 'media', '<trt:GetProfiles/>', { username: 'nvr', password: 'nvr-secret-2' })).status).toBe(200);
    expect(
      (
        await soap(
          h.baseUrl,
          'device',
          '<tds:SetUser><tds:User><tt:Username>viewer</tt:Username><tt:UserLevel>Administrator</tt:UserLevel></tds:User></tds:SetUser>',
          admin,
        )
      ).text,
    ).toMatch(/ter:FixedUser/);
    await soap(h.baseUrl, 'device', '<tds:DeleteUsers><tds:Username>nvr</tds:Username></tds:DeleteUsers>', admin);
    expect((await soap(h.baseUrl, 'media', '<trt:GetProfiles/>', { username: 'nvr', password: 'nvr-secret-2' })).text).toMatch(/ter:NotAuthorized/);
    expect((await soap(h.baseUrl, 'device', '<tds:DeleteUsers><tds:Username>nvr</tds:Username></tds:DeleteUsers>', admin)).text).toMatch(/ter:UsernameMissing/);
  });

  it('HTTP Digest authenticates as ONVIF Core asks: 401 challenge, then the digest answer', async () => {
    const body = '<trt:GetProfiles/>';
    const first = await soap(h.baseUrl, 'media', body);
    expect(first.status).toBe(401);
    const challenge = Object.fromEntries([...first.headers.get('www-authenticate')!.matchAll(/(\w+)="?([^",]+)"?/g)].map((m) => [m[1]!, m[2]!]));
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const answer = (password: string) => {
      const ha1 = md5(`viewer:${challenge.realm}:${password}`);
      const ha2 = md5('POST:/onvif/media_service');
      const response = md5(`${ha1}:${challenge.nonce}:00000001:c0ffee:auth:${ha2}`);
      return `Digest username="viewer", realm="${challenge.realm}", nonce="${challenge.nonce}", uri="/onvif/media_service", qop=auth, nc=00000001, cnonce="c0ffee", response="${response}"`;
    };
    const ok = await soap(h.baseUrl, 'media', body, undefined, { authorization: answer('viewer-secret') });
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/token="profile_stream1"/);
    const wrong = await soap(h.baseUrl, 'media', body, undefined, { authorization: answer('wrong') });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toMatch(/ter:NotAuthorized/);
  });

  it('SystemReboot restarts the pipelines and readers come back', async () => {
    expect((await soap(h.baseUrl, 'device', '<tds:SystemReboot/>', h.users.operator)).text).toMatch(/ter:NotAuthorized/);
    // Pipeline uptime (seconds since its first frame) starts again from zero after a restart.
    const uptime = async () => ((await h.fetch('/api/stats').then((r) => r.json())) as { stream1: { uptime: number } }).stream1.uptime;
    await expect.poll(uptime, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    const before = await uptime();
    const reboot = await soap(h.baseUrl, 'device', '<tds:SystemReboot/>', h.users.admin);
    expect(values(reboot.text, 'Message')).toEqual(['Restarting the video pipelines']);
    await expect.poll(uptime, { timeout: 10_000, interval: 200 }).toBeLessThan(before);
    await expect.poll(() => probeSize(`rtsp://viewer:viewer-secret@127.0.0.1:${rtspPort}/stream1`), { timeout: 30_000, interval: 1000 }).toBe('320,240');
  });

  it('tokens without Nonce/Created, huge bodies and wrong content are refused, and the service keeps answering', async () => {
    const noNonce =
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken><Username>viewer</Username>' +
      '<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">viewer-secret</Password></UsernameToken></Security></s:Header><s:Body><GetProfiles xmlns="http://www.onvif.org/ver10/media/wsdl"/></s:Body></s:Envelope>';
    const r1 = await fetch(`${h.baseUrl}/onvif/media_service`, { method: 'POST', headers: { 'content-type': 'application/soap+xml' }, body: noNonce });
    expect(await r1.text()).toMatch(/needs a Nonce and a Created/);
    const huge = await fetch(`${h.baseUrl}/onvif/device_service`, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml' },
      body: '<a>' + 'x'.repeat(100_000) + '</a>', // over the 64 KiB limit
    });
    expect(huge.status).toBe(413);
    expect(await huge.text()).toMatch(/env:Fault/);
    const billion =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetScopes>&lol2;</GetScopes></s:Body></s:Envelope>';
    expect(
      (await fetch(`${h.baseUrl}/onvif/device_service`, { method: 'POST', headers: { 'content-type': 'application/soap+xml' }, body: billion })).status,
    ).toBe(400);
    expect((await soap(h.baseUrl, 'device', '<tds:GetSystemDateAndTime/>')).status).toBe(200);
  });
});
