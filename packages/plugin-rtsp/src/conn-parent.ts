import type { Caller, CodecParameters, Logger, LogThrottle, StreamSettings } from '@camd/core';
import type { AuthRequest, AuthResult } from './rtsp-auth.js';
import type { RtspConnection } from './rtsp-connection.js';
import type { RtspSession } from './rtsp-session.js';

/** A stream named by a request URL: its settings, the URL base for `Content-Base`, and the track asked for. */
export interface StreamTarget {
  settings: StreamSettings;
  base: string;
  track?: string;
}

/**
 * What a connection needs of its server, and all it may use of it (as mediamtx's `connParent`): the
 * server implements it. Sessions are created and found here; their state is theirs to change.
 */
export interface ConnParent {
  readonly log: Logger;
  /** Lines about what a peer did (malformed, too slow) go through it: a line a minute per address and kind. */
  readonly logThrottle: LogThrottle;
  /** A connection without a live session that is quiet this long is closed. */
  readonly idleTimeoutMs: number;
  /** A request begun must be whole within this time, or the connection is answered 408 and closed. */
  readonly headTimeoutMs: number;
  /** Checks a request's credentials (through the daemon's brute-force guard: a refusal costs no check). */
  authenticate(req: AuthRequest): Promise<AuthResult>;
  /** The configured stream a request URL names (its path, optionally followed by `/trackID=0`). */
  resolve(url: string): StreamTarget | undefined;
  /** The stream's codec parameters; rejects when the encoder gives none within `timeoutMs`. */
  parameters(stream: string, timeoutMs: number): Promise<CodecParameters>;
  /** A new session owned by `conn`, bound to the format it `negotiated`, or why not (the server, or this user, holds as many as it may). */
  createSession(stream: string, caller: Caller, conn: RtspConnection, negotiated: CodecParameters): RtspSession | { refused: string };
  findSession(id: string): RtspSession | undefined;
  /** camd's UDP port pair, or undefined when UDP is unavailable. */
  udpPorts(): { rtp: number; rtcp: number } | undefined;
  /** An RTCP packet the client sent for `session`. */
  onRtcp(session: RtspSession, data: Buffer): void;
}
