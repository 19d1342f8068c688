import { createError } from '@camd/core';

/**
 * Every error the WebRTC plugin answers with, in one list (core's HTTP error handler turns them into
 * `{ error, code, message }` with the status). An unknown stream is core's `CoreErrors.STREAM_UNKNOWN`.
 */
export const WebRtcErrors = {
  /** Not the documented offer body `{"type":"offer","sdp":"v=0..."}`. */
  BAD_OFFER: createError('CAMD_ERR_WEBRTC_BAD_OFFER', '%s', 400),
  OFFER_TOO_LARGE: createError('CAMD_ERR_WEBRTC_BAD_OFFER', 'the SDP is larger than %d bytes', 413),
  WHEP_NOT_SDP: createError('CAMD_ERR_WEBRTC_BAD_OFFER', 'WHEP offers are sent as Content-Type: application/sdp', 415),
  /** Malformed SDP, no DTLS fingerprint or ICE credentials, or the peer connection refused it. */
  BAD_SDP: createError('CAMD_ERR_WEBRTC_BAD_SDP', '%s', 400),
  /** No video section that receives. */
  NO_VIDEO: createError('CAMD_ERR_WEBRTC_NO_VIDEO', '%s', 400),
  /** The offer has no format that is the stream's codec and profile (the message names both), or the stream is MJPEG. */
  CODEC: createError('CAMD_ERR_WEBRTC_CODEC', '%s', 422),
  /** The stream's encoder has given no keyframe yet, so what it sends is not known (the route adds `Retry-After`). */
  NOT_READY: createError('CAMD_ERR_WEBRTC_NOT_READY', '%s', 503),
  /** `maxViewers` reached (the route adds `Retry-After`). */
  LIMIT: createError('CAMD_ERR_WEBRTC_LIMIT', '%d WebRTC viewers are connected, the limit is %d (option maxViewers)', 429),
  /** `maxViewersPerUser` reached (the route adds `Retry-After`). */
  USER_LIMIT: createError('CAMD_ERR_WEBRTC_LIMIT', '%s has %d WebRTC viewers, the limit per user is %d (option maxViewersPerUser)', 429),
  DISABLED: createError('CAMD_ERR_WEBRTC_DISABLED', 'WebRTC is disabled: a Media_rw user can set webrtcEnabled to true', 503),
  /** Not a session of this caller (or of this WHEP stream). */
  SESSION: createError('CAMD_ERR_WEBRTC_SESSION', 'no such %s', 404),
  TRICKLE: createError('CAMD_ERR_WEBRTC_TRICKLE', 'trickle ICE is not supported: the answer holds all candidates', 405),
};
