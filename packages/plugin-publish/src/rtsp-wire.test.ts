import { describe, expect, it } from 'vitest';
import { interleave, parseTransport, RtspReader, RtspWireError, MAX_HEAD } from './rtsp-wire.js';

describe('RtspReader', () => {
  it('reads responses, bodies and interleaved packets, whatever the chunking', () => {
    const wire = Buffer.concat([
      Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 4\r\n\r\nbody'),
      interleave(1, [Buffer.from([0x80, 0xc9, 0, 1, 0, 0, 0, 1])]),
      Buffer.from('OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n'),
      Buffer.from('RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="a", nonce="b"\r\nWWW-Authenticate: Basic realm="a"\r\n\r\n'),
    ]);
    for (const step of [1, 3, 7, wire.length]) {
      const r = new RtspReader();
      const got = [];
      for (let o = 0; o < wire.length; o += step) got.push(...r.push(wire.subarray(o, o + step)));
      expect(got.map((m) => m.kind)).toEqual(['response', 'interleaved', 'request', 'response']);
      const [ok, rtcp, req, denied] = got as any[];
      expect(ok.status).toBe(200);
      expect(ok.body.toString()).toBe('body');
      expect(rtcp.channel).toBe(1);
      expect(rtcp.data.length).toBe(8);
      expect(req).toMatchObject({ method: 'OPTIONS', uri: '*' });
      expect(denied.headers.get('www-authenticate')).toHaveLength(2);
    }
  });

  it('rejects garbage and oversized messages with a reason', () => {
    expect(() => new RtspReader().push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'))).toThrow(RtspWireError);
    expect(() => new RtspReader().push(Buffer.from('RTSP/1.0 200 OK\r\nno colon\r\n\r\n'))).toThrow(/without a name/);
    expect(() => new RtspReader().push(Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n'))).toThrow(/Content-Length/);
    expect(() => new RtspReader().push(Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n'))).toThrow(/body of/);
    expect(() => new RtspReader().push(Buffer.alloc(MAX_HEAD + 10, 'a'))).toThrow(/longer than/);
  });
});

describe('parseTransport', () => {
  it('reads interleaved channels and server ports', () => {
    expect(parseTransport('RTP/AVP/TCP;unicast;interleaved=2-3;mode=record')).toEqual({ interleaved: [2, 3] });
    expect(parseTransport('RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1234ABCD;mode="RECORD"')).toEqual({
      serverPort: [6970, 6971],
      ssrc: '1234ABCD',
    });
    expect(parseTransport(undefined)).toEqual({});
    expect(parseTransport('RTP/AVP;server_port=x')).toEqual({ serverPort: undefined });
  });
});
