/**
 * The RTSP `Transport` header (RFC 2326 §12.39): what a client offers in SETUP, and the server's
 * answer. camd serves unicast RTP/AVP, interleaved in the RTSP connection (TCP) or over UDP.
 */

export type Transport = { kind: 'tcp'; rtpChannel: number; rtcpChannel: number } | { kind: 'udp'; address: string; rtpPort: number; rtcpPort: number };

/** Longer headers are refused unread. */
export const MAX_TRANSPORT_HEADER = 1024;

/**
 * The first transport of the client's list (comma-separated, in order of preference) that camd
 * serves, or undefined (then 461 Unsupported Transport). Multicast and other profiles are skipped.
 * UDP goes to `remoteAddress`, the client's own address, whatever a `destination` parameter says:
 * a client cannot make camd send a stream to another host. `udp: false` (RTSPS) skips UDP offers.
 */
export function parseTransport(header: string | undefined, remoteAddress: string, opts: { udp?: boolean } = {}): Transport | undefined {
  if (!header || header.length > MAX_TRANSPORT_HEADER) return undefined;
  for (const spec of header.split(',')) {
    const parts = spec
      .trim()
      .split(';')
      .map((p) => p.trim());
    const proto = parts[0]!.toUpperCase();
    const param = (k: string) => parts.find((p) => p.toLowerCase().startsWith(`${k}=`))?.slice(k.length + 1);
    if (parts.some((p) => p.toLowerCase() === 'multicast')) continue;
    if (proto === 'RTP/AVP/TCP') {
      // Without `interleaved`, the server may choose: the first pair.
      const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(param('interleaved') ?? '0-1');
      if (!m) continue;
      const rtp = Number(m[1]);
      const rtcp = m[2] ? Number(m[2]) : rtp + 1;
      if (rtp > 255 || rtcp > 255) continue;
      return { kind: 'tcp', rtpChannel: rtp, rtcpChannel: rtcp };
    }
    if ((proto === 'RTP/AVP' || proto === 'RTP/AVP/UDP') && opts.udp !== false) {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(param('client_port') ?? '');
      if (!m) continue;
      const rtp = Number(m[1]);
      const rtcp = m[2] ? Number(m[2]) : rtp + 1;
      if (rtp < 1 || rtp > 65535 || rtcp < 1 || rtcp > 65535) continue;
      return { kind: 'udp', address: remoteAddress, rtpPort: rtp, rtcpPort: rtcp };
    }
  }
  return undefined;
}

/** The SETUP answer's `Transport`: the transport chosen, camd's UDP ports for UDP, the stream's SSRC (8 hex digits). */
export function formatTransport(t: Transport, ssrc: number, serverPorts?: { rtp: number; rtcp: number }): string {
  const hex = (ssrc >>> 0).toString(16).padStart(8, '0');
  if (t.kind === 'tcp') return `RTP/AVP/TCP;unicast;interleaved=${t.rtpChannel}-${t.rtcpChannel};ssrc=${hex}`;
  const server = serverPorts ? `;server_port=${serverPorts.rtp}-${serverPorts.rtcp}` : '';
  return `RTP/AVP;unicast;client_port=${t.rtpPort}-${t.rtcpPort}${server};ssrc=${hex}`;
}
