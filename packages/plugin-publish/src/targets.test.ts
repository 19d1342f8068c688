import { describe, expect, it } from 'vitest';
import { ValidationError } from '@camd/core';
import { muxArgs, muxCodecRefusal } from './mux-child.js';
import { conceal, parseTarget, redactTargets, redactUrl, scrub, targetId, targetLabel, targetsValidator } from './targets.js';

const parse = (url: string) => parseTarget({ stream: 'stream1', url });

describe('parseTarget', () => {
  it('picks the protocol from the scheme, fills default ports, and separates credentials from the URL', () => {
    const t = parse('rtsp://us%40er:p%3Ass@example.com/cam?transport=udp&x=1');
    expect(t).toMatchObject({ protocol: 'rtsp', transport: 'udp', tls: false, username: 'us@er', password: 'p:ss' });
    expect(t.url.href).toBe('rtsp://example.com:554/cam?x=1');
    expect(t.display).toBe('rtsp://us%40er:***@example.com/cam?transport=udp&x=1');
    expect(parse('rtsps://h/x')).toMatchObject({ protocol: 'rtsp', tls: true });
    expect(parse('rtsps://h/x').url.port).toBe('322');
    expect(parse('rtmp://h/live/key').url.port).toBe('1935');
    expect(parse('rtmps://h/live/key')).toMatchObject({ protocol: 'rtmp', tls: true });
    expect(parse('srt://h:9000').protocol).toBe('srt');
  });

  it('masks every secret in what users see: password, RTMP stream key, SRT passphrase and stream id', () => {
    expect(redactUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl')).toBe('rtmp://a.rtmp.youtube.com/live2/***');
    expect(redactUrl('srt://gw:9000?streamid=publish:cam:u:p&passphrase=longsecret1&latency=200')).toBe(
      'srt://gw:9000?streamid=***&passphrase=***&latency=200',
    );
    expect(redactUrl('not a url')).toBe('<invalid url>');
    const t = parse('srt://gw:9000?passphrase=longsecret1');
    expect(scrub('Failed: srt://gw:9000?passphrase=longsecret1 refused', t.secrets)).toBe('Failed: srt://gw:9000?passphrase=*** refused');
  });

  it.each([
    ['http://h/x', /scheme rtsp, rtsps, rtmp, rtmps or srt \(not http\)/],
    ['rtsp://h/x?transport=sctp', /transport=tcp or transport=udp/],
    ['srt://h', /srt:\/\/ URL with a port/],
    ['srt://h:9000?mode=listener', /caller mode/],
    ['rtmp://u:p@h/live/x', /without user:password@/],
    ['rtmp://h/live', /rtmp:\/\/host\[:port\]\/app\/stream/],
    ['rtsp://h/x y', /without spaces, quotes/],
    ['rtsp://h/x"!fakesink', /without spaces, quotes/],
    ['rtsp://h/x#frag', /without a #fragment/],
    ['relative/path', /absolute URL/],
    ['rtsp://h/x\u0001', /control characters/],
  ])('rejects %s with a clear reason that never repeats the URL', (url, why) => {
    let err: unknown;
    try {
      parseTarget({ stream: 'stream1', url: `${url}` }, 'publishTargets[0]');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toMatch(/^publishTargets\[0\]\.url: /);
    expect((err as Error).message).not.toContain(url);
  });

  it('rejects unknown fields, bad stream names, duplicates and too many targets', () => {
    const v = targetsValidator();
    expect(() => v.parse([{ stream: 'stream1', url: 'rtsp://h/x', extra: 1 }], 'k')).toThrow(/k\[0\]\.extra: expected no such field/);
    expect(() => v.parse([{ stream: 'a b', url: 'rtsp://h/x' }], 'k')).toThrow(/k\[0\]\.stream/);
    expect(() =>
      v.parse(
        [
          { stream: 's', url: 'rtsp://h/x' },
          { stream: 's', url: 'rtsp://h:554/x' },
        ],
        'k',
      ),
    ).toThrow(/listed once/);
    expect(() =>
      v.parse(
        Array.from({ length: 17 }, (_, i) => ({ stream: 's', url: `rtsp://h/${i}` })),
        'k',
      ),
    ).toThrow(/at most 16/);
    expect(v.parse([{ stream: 's', url: 'rtsp://h/x' }], 'k')).toEqual([{ stream: 's', url: 'rtsp://h/x' }]);
  });
});

describe('ca (rtsps://, rtmps://)', () => {
  // A throwaway self-signed certificate (its key was discarded): any certificate that parses will do.
  const PEM = `-----BEGIN CERTIFICATE-----
MIIBiDCCAS+gAwIBAgIULD6f/Q2ckbRQSX28WcmAz83zOjEwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOY2FtZCB1bml0IHRlc3QwIBcNMjYxMTI5MjMwMjUyWhgPMjEy
NjExMDUyMzAyNTJaMBkxFzAVBgNVBAMMDmNhbWQgdW5pdCB0ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEFit/JZ1UowYSDNYnEH289BXBAAd0acEsyXn65OdA
2dLbMYd5G2WfQpFTVF5sQAjOlOWcwNKXP1dXteqtzGdB06NTMFEwHQYDVR0OBBYE
FMscXYATlRmDB2v2QXguuF2/cCfCMB8GA1UdIwQYMBaAFMscXYATlRmDB2v2QXgu
uF2/cCfCMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgeav8pwmv
kpO/RAWU+1IhLiRl4JS4HF3UTznD71q6SJYCIBh99N9lL3rdhZzY0MnWf0R8wuVF
K8GIBiHmCVocreoy
-----END CERTIFICATE-----`;

  it('takes the absolute path of a PEM file, for TLS URLs only; a change of ca is a new target', () => {
    const t = parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: '/etc/camd/ca.pem' });
    expect(t.ca).toEqual({ file: '/etc/camd/ca.pem' });
    expect(parseTarget({ stream: 'stream1', url: 'rtmps://h/live/k', ca: '/etc/camd/ca.pem' }).ca).toEqual({ file: '/etc/camd/ca.pem' });
    expect(parse('rtsps://h/x').ca).toBeUndefined();
    expect(targetId(t)).not.toBe(targetId(parse('rtsps://h/x')));
    expect(() => parseTarget({ stream: 'stream1', url: 'rtsp://h/x', ca: '/etc/camd/ca.pem' }, 'k[0]')).toThrow(
      /k\[0\]\.ca: expected no ca for a URL without TLS/,
    );
    expect(() => parseTarget({ stream: 'stream1', url: 'srt://h:9000', ca: '/etc/camd/ca.pem' })).toThrow(/without TLS/);
    expect(() => parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: 'ca.pem' })).toThrow(/absolute path/);
    expect(() => parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: '' })).toThrow(/PEM certificates or a file path/);
    expect(() => parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: 42 as unknown as string })).toThrow(/PEM certificates or a file path/);
  });

  it('takes PEM text only when every certificate in it parses', () => {
    expect(parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: `# our CA\n${PEM}\n` }).ca).toEqual({ pem: PEM });
    expect(parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: `${PEM}\n${PEM}` }).ca).toEqual({ pem: `${PEM}\n${PEM}` });
    expect(() => parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----' })).toThrow(
      /PEM certificates \(-----BEGIN CERTIFICATE-----\)/,
    );
    expect(() => parseTarget({ stream: 'stream1', url: 'rtsps://h/x', ca: '-----BEGIN CERTIFICATE-----\nnot base64 der\n-----END CERTIFICATE-----' })).toThrow(
      /PEM certificates that parse/,
    );
  });

  it('is kept by the validator and shown on read (a CA certificate is no secret); the URL stays masked', () => {
    const v = targetsValidator();
    expect(v.parse([{ stream: 's', url: 'rtsps://u:pw1@h/x', ca: '/etc/camd/ca.pem' }], 'k')).toEqual([
      { stream: 's', url: 'rtsps://u:pw1@h/x', ca: '/etc/camd/ca.pem' },
    ]);
    expect(redactTargets([{ stream: 's', url: 'rtsps://u:pw1@h/x', ca: '/etc/camd/ca.pem' }])).toEqual([
      { stream: 's', url: 'rtsps://u:***@h/x', ca: '/etc/camd/ca.pem' },
    ]);
    expect(v.schema).toMatchObject({ items: { properties: { ca: { type: 'string' } } } });
  });
});

describe('what names a target outside /api/stats', () => {
  const url = 'rtsp://pubuser:pw-9f2c@10.0.0.5:8554/live/SECRETKEY?auth=q7Tok3nZ&transport=tcp';

  it('is its name, else its position; a name is a short word, unique in the list', () => {
    const v = targetsValidator();
    expect(v.parse([{ stream: 's', url: 'rtsp://h/x', name: 'studio' }], 'k')).toEqual([{ stream: 's', url: 'rtsp://h/x', name: 'studio' }]);
    expect(targetLabel(parseTarget({ stream: 's', url: 'rtsp://h/x', name: 'studio' }), 3)).toBe('studio');
    expect(targetLabel(parseTarget({ stream: 's', url: 'rtsp://h/x' }), 3)).toBe('#3');
    expect(() => v.parse([{ stream: 's', url: 'rtsp://h/x', name: '#0' }], 'k')).toThrow(
      'k[0].name: expected target name (1-64 of A-Z a-z 0-9 _ . -), got a string of 2 characters',
    );
    expect(() =>
      v.parse(
        [
          { stream: 's', url: 'rtsp://h/x', name: 'a' },
          { stream: 's', url: 'rtsp://h/y', name: 'a' },
        ],
        'k',
      ),
    ).toThrow('k[1].name: expected a name no other target has, got "a"');
    expect(redactTargets([{ stream: 's', url: 'rtsp://u:pw@h/x', name: 'studio' }])).toEqual([{ stream: 's', url: 'rtsp://u:***@h/x', name: 'studio' }]);
  });

  it("conceal: a server's or a child's text keeps its sense, without host, user, path, query or secret", () => {
    const t = parseTarget({ stream: 'stream1', url });
    const cases: Array<[string, string]> = [
      ['10.0.0.5:8554: ECONNREFUSED', '<host>: ECONNREFUSED'],
      ['no connection to 10.0.0.5:8554 within 5000 ms', 'no connection to <host> within 5000 ms'],
      [`ANNOUNCE ${t.url.href} answered 404 Not Found`, 'ANNOUNCE <target> answered 404 Not Found'],
      [`Could not open ${url}`, 'Could not open <target>'],
      ['stream SECRETKEY not found on live/SECRETKEY', 'stream <path> not found on <path>'],
      ['user pubuser refused (pw-9f2c)', 'user <user> refused (***)'],
      ['token q7Tok3nZ expired; auth=q7Tok3nZ', 'token <query> expired; <query>'],
      // Words that merely contain a part, and camd's own option, are left alone.
      ['10.0.0.55 is another host; transport=tcp', '10.0.0.55 is another host; transport=tcp'],
    ];
    for (const [text, shown] of cases) expect(conceal(text, t), text).toBe(shown);
    const v6 = parseTarget({ stream: 'stream1', url: 'rtmp://[fd00::5]:1935/app/STREAMKEY-123' });
    expect(conceal('connect ECONNREFUSED fd00::5:1935', v6)).toBe('connect ECONNREFUSED <host>:1935');
    expect(conceal('rtmp://[fd00::5]:1935/app/*** refused', v6)).toBe('<target> refused');
  });
});

describe('muxArgs', () => {
  it('builds one quoted location for gst-launch, FLV for RTMP and MPEG-TS in caller mode for SRT', () => {
    const rtmp = muxArgs(parse('rtmp://127.0.0.1/live/key'));
    expect(rtmp).toContain('flvmux');
    expect(rtmp).toContain('location="rtmp://127.0.0.1:1935/live/key"');
    const srt = muxArgs(parse('srt://127.0.0.1:9000?passphrase=abcdefghij'));
    expect(srt).toContain('mpegtsmux');
    expect(srt.find((a) => a.startsWith('uri='))).toBe('uri="srt://127.0.0.1:9000?passphrase=abcdefghij&mode=caller"');
    expect(srt).toContain('auto-reconnect=false');
  });

  it("rtmps://: the child speaks plain RTMP to camd's loopback end of the TLS connection, path and key kept", () => {
    expect(muxArgs(parse('rtmps://live.example.com/app/key?x=1'), 'h264', 40123)).toContain('location="rtmp://127.0.0.1:40123/app/key?x=1"');
    expect(() => muxArgs(parse('rtmps://live.example.com/app/key'))).toThrow(/needs its port/);
  });

  it('picks the parser by codec: H.264 for both, H.265 for SRT only; MJPEG for neither, with the reason', () => {
    expect(muxArgs(parse('rtmp://127.0.0.1/live/key'), 'h264')).toContain('h264parse');
    const srt = muxArgs(parse('srt://127.0.0.1:9000'), 'h265');
    expect(srt).toContain('h265parse');
    expect(srt).not.toContain('h264parse');
    expect(() => muxArgs(parse('rtmp://127.0.0.1/live/key'), 'h265')).toThrow('RTMP carries H.264 only; stream1 is H.265');
    expect(muxCodecRefusal('rtmp', 'h264', 'stream1')).toBeUndefined();
    expect(muxCodecRefusal('srt', 'h265', 'stream1')).toBeUndefined();
    expect(muxCodecRefusal('srt', 'mjpeg', 'stream2')).toBe('SRT (MPEG-TS) carries H.264 and H.265 only; stream2 is MJPEG');
  });
});
