import type { FuzzTarget } from '../harness.js';
import { authorization } from './auth.js';
import { configFile } from './config.js';
import { soap, wsDiscovery } from './onvif.js';
import { rtcpRtsp, rtcpWebrtc } from './rtcp.js';
import { httpTunnel, rtspConnection, rtspRequest, rtspTransport } from './rtsp.js';
import { sdpOffer } from './sdp.js';

/** Every parser of network or file input, in the order `pnpm fuzz` runs them. */
export const TARGETS: FuzzTarget<any>[] = [
  rtspRequest,
  rtspConnection,
  rtspTransport,
  httpTunnel,
  authorization,
  sdpOffer,
  rtcpRtsp,
  rtcpWebrtc,
  soap,
  wsDiscovery,
  configFile,
];
