import { describe, expect, it } from 'vitest';
import { formatTransport, MAX_TRANSPORT_HEADER, parseTransport } from './transport-header.js';

const CLIENT = '192.0.2.10';
const parse = (header: string | undefined) => parseTransport(header, CLIENT);

describe('parseTransport (RFC 2326 §12.39)', () => {
  it('reads RTP over the RTSP connection: interleaved=rtp-rtcp', () => {
    expect(parse('RTP/AVP/TCP;unicast;interleaved=0-1')).toEqual({ kind: 'tcp', rtpChannel: 0, rtcpChannel: 1 });
    expect(parse('RTP/AVP/TCP;unicast;interleaved=4-5')).toEqual({ kind: 'tcp', rtpChannel: 4, rtcpChannel: 5 });
    expect(parse('RTP/AVP/TCP;interleaved=254-255;unicast')).toEqual({ kind: 'tcp', rtpChannel: 254, rtcpChannel: 255 });
  });

  it('takes the next channel for RTCP when one channel is given, and the first pair when none is', () => {
    expect(parse('RTP/AVP/TCP;unicast;interleaved=6')).toEqual({ kind: 'tcp', rtpChannel: 6, rtcpChannel: 7 });
    expect(parse('RTP/AVP/TCP;unicast')).toEqual({ kind: 'tcp', rtpChannel: 0, rtcpChannel: 1 });
  });

  it('refuses channels beyond the one octet of a $-frame', () => {
    expect(parse('RTP/AVP/TCP;unicast;interleaved=256-257')).toBeUndefined();
    expect(parse('RTP/AVP/TCP;unicast;interleaved=255')).toBeUndefined(); // RTCP would need channel 256
    expect(parse('RTP/AVP/TCP;unicast;interleaved=0-1000')).toBeUndefined();
  });

  it('reads RTP over UDP: client_port=rtp-rtcp, to the client address', () => {
    expect(parse('RTP/AVP;unicast;client_port=5000-5001')).toEqual({ kind: 'udp', address: CLIENT, rtpPort: 5000, rtcpPort: 5001 });
    expect(parse('RTP/AVP/UDP;unicast;client_port=6970-6971')).toEqual({ kind: 'udp', address: CLIENT, rtpPort: 6970, rtcpPort: 6971 });
    expect(parse('RTP/AVP;unicast;client_port=5000')).toEqual({ kind: 'udp', address: CLIENT, rtpPort: 5000, rtcpPort: 5001 });
  });

  it('sends UDP to the client that asked, never to a destination it names', () => {
    expect(parse('RTP/AVP;unicast;destination=198.51.100.7;client_port=5000-5001')).toEqual({ kind: 'udp', address: CLIENT, rtpPort: 5000, rtcpPort: 5001 });
  });

  it('refuses UDP without client ports or with ports outside 1..65535', () => {
    expect(parse('RTP/AVP;unicast')).toBeUndefined();
    expect(parse('RTP/AVP;unicast;client_port=')).toBeUndefined();
    expect(parse('RTP/AVP;unicast;client_port=0-1')).toBeUndefined();
    expect(parse('RTP/AVP;unicast;client_port=65536-65537')).toBeUndefined();
    expect(parse('RTP/AVP;unicast;client_port=65535')).toBeUndefined(); // RTCP would need 65536
    expect(parse('RTP/AVP;unicast;client_port=a-b')).toBeUndefined();
  });

  it('refuses multicast, over UDP or TCP', () => {
    expect(parse('RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001;ttl=8')).toBeUndefined();
    expect(parse('RTP/AVP;multicast;client_port=5000-5001')).toBeUndefined();
    expect(parse('RTP/AVP/TCP;multicast;interleaved=0-1')).toBeUndefined();
  });

  it('refuses profiles and protocols it does not serve', () => {
    for (const proto of ['RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'RAW/RAW/UDP', 'MP2T/H2221/UDP', 'x-real-rdt/udp', 'RTP', 'RTP/AVP/SCTP']) {
      expect(parse(`${proto};unicast;client_port=5000-5001;interleaved=0-1`), proto).toBeUndefined();
    }
  });

  it('takes the first transport it serves from a list in order of preference', () => {
    expect(
      parse('RTP/AVP;multicast, RTP/SAVP;unicast;client_port=5000-5001, RTP/AVP/TCP;unicast;interleaved=2-3, RTP/AVP;unicast;client_port=7000-7001'),
    ).toEqual({ kind: 'tcp', rtpChannel: 2, rtcpChannel: 3 });
    expect(parse('RTP/AVP;unicast;client_port=7000-7001,RTP/AVP/TCP;unicast;interleaved=0-1')).toMatchObject({ kind: 'udp', rtpPort: 7000 });
  });

  it('tolerates white space around parameters and the case of the protocol', () => {
    expect(parse(' RTP/AVP/TCP ; unicast ; interleaved=0-1 ')).toEqual({ kind: 'tcp', rtpChannel: 0, rtcpChannel: 1 });
    expect(parse('rtp/avp;unicast;Client_Port=5000-5001')).toMatchObject({ kind: 'udp', rtpPort: 5000 });
  });

  it('refuses garbage: nothing, empty, separators only, junk, and headers longer than 1 KiB', () => {
    for (const h of [
      undefined,
      '',
      ';',
      ',',
      ';;,;;',
      'garbage',
      '=',
      'RTP/AVP/TCP;interleaved=x',
      'RTP/AVP/TCP;interleaved=0-1-2',
      'RTP/AVP;client_port=1-2-3',
      '\u0000\u0001',
    ]) {
      expect(parse(h), JSON.stringify(h)).toBeUndefined();
    }
    const long = `RTP/AVP/TCP;unicast;interleaved=0-1;${'x'.repeat(MAX_TRANSPORT_HEADER)}`;
    expect(parse(long)).toBeUndefined();
  });
});

describe('formatTransport (the SETUP answer)', () => {
  it('states the chosen channels and the stream SSRC in 8 hex digits', () => {
    expect(formatTransport({ kind: 'tcp', rtpChannel: 2, rtcpChannel: 3 }, 0xab)).toBe('RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=000000ab');
  });

  it('states the client and server ports for UDP', () => {
    expect(formatTransport({ kind: 'udp', address: CLIENT, rtpPort: 5000, rtcpPort: 5001 }, 0xdeadbeef, { rtp: 40000, rtcp: 40001 })).toBe(
      'RTP/AVP;unicast;client_port=5000-5001;server_port=40000-40001;ssrc=deadbeef',
    );
  });

  it('is read back as the same transport', () => {
    for (const t of [
      { kind: 'tcp', rtpChannel: 8, rtcpChannel: 9 },
      { kind: 'udp', address: CLIENT, rtpPort: 6000, rtcpPort: 6001 },
    ] as const) {
      expect(parse(formatTransport(t, 1, { rtp: 2, rtcp: 3 }))).toEqual(t);
    }
  });
});
