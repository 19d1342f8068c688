import type { EncodedFrame } from '@camd/core';

/**
 * Why a connection to a media server failed; `auth` and `refused` are the server's own answer, `tls`
 * a handshake that failed (most often a server certificate camd does not trust).
 */
export type PublishErrorKind = 'auth' | 'refused' | 'network' | 'tls' | 'protocol' | 'stalled' | 'exited';

/** A failure of one target, with a message that never carries the target's credentials. */
export class PublishError extends Error {
  constructor(
    readonly kind: PublishErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

/**
 * One connection to a media server for one target (an RTSP RECORD session, or a muxer child for
 * RTMP and SRT). The target opens a new sink for every (re)connection.
 */
export interface PublishSink {
  /** Connects and negotiates; resolves when frames may be written, rejects with a `PublishError`. */
  open(): Promise<void>;
  /** Sends one access unit; false when the transport is full (then wait for `drained()`). */
  write(frame: EncodedFrame): boolean;
  /** Resolves when the transport takes data again (or the sink failed or closed). */
  drained(): Promise<void>;
  /**
   * Resolves when the server has the stream (RTSP: RECORD answered, i.e. with `open`; a muxer child:
   * once it has run for a while). Never resolves for a connection that fails first.
   */
  readonly confirmed?: Promise<void>;
  /** Bytes handed to the network (RTSP) or to the muxer child (RTMP, SRT). */
  readonly bytesSent: number;
  /** Set by the target: called once when the connection fails after `open` resolved. */
  onFailure?: (err: PublishError) => void;
  /** Ends the connection (RTSP TEARDOWN; the child gets EOS, then SIGKILL if it lingers). */
  close(): Promise<void>;
}

/** Resolves when `stream` has drained its write buffer, or closed (whichever comes first). */
export function drainedOrClosed(stream: NodeJS.WritableStream & { writableNeedDrain?: boolean }): Promise<void> {
  if (!stream.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}
