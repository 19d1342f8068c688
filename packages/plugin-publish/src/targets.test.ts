import { describe, expect, it } from 'vitest';
import { ValidationError } from '@camd/core';
import { muxArgs, muxCodecRefusal } from './mux-child.js';
import { parseTarget, redactUrl, scrub, targetsValidator } from './targets.js';

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
