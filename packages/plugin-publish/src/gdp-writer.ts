import type { FrameCodec } from '@camd/core';

/**
 * Writer for the GStreamer data protocol (what `gdpdepay` reads), the mirror of core's `GdpReader`.
 * It is only the framing that carries each access unit's timestamp and keyframe flag into a muxer
 * child (`fdsrc ! gdpdepay ! h264parse|h265parse ! flvmux|mpegtsmux`): Annex B alone has no timestamps, and a
 * muxer that guesses them from arrival or a nominal frame rate drifts.
 *
 * Header (62 bytes, big-endian): 0 version major (1), 1 minor (0), 2 flags (0: no CRCs), 3 pad,
 * 4-5 payload type, 6-9 payload length, 10-17 PTS, 18-25 duration, 26-33 offset, 34-41 offset end,
 * 42-43 buffer flags, 44-51 DTS, 52-57 reserved, 58-59 header CRC, 60-61 payload CRC.
 */
export const GDP_HEADER = 62;
const PAYLOAD_BUFFER = 1;
const PAYLOAD_CAPS = 2;
// Event payload types are 64 + GST_EVENT_TYPE (the event's number and flags), as gdppay writes them.
const PAYLOAD_STREAM_START = 10318;
const PAYLOAD_SEGMENT = 17998;
/** GST_BUFFER_FLAG_DELTA_UNIT: not a keyframe. */
const FLAG_DELTA_UNIT = 0x2000;
const CLOCK_TIME_NONE = 0xffffffffffffffffn;

/** Caps of what camd's hub carries: H.264 Annex B, one access unit per buffer. */
export const H264_AU_CAPS = 'video/x-h264, stream-format=(string)byte-stream, alignment=(string)au';
/** H.265 as the hub carries it: Annex B, one access unit per buffer. */
export const H265_AU_CAPS = 'video/x-h265, stream-format=(string)byte-stream, alignment=(string)au';

/** The caps of each codec's access units (JPEG: one picture per buffer). */
export const AU_CAPS: Record<FrameCodec, string> = {
  h264: H264_AU_CAPS,
  h265: H265_AU_CAPS,
  mjpeg: 'image/jpeg, parsed=(boolean)true',
  vp8: 'video/x-vp8',
  vp9: 'video/x-vp9',
  av1: 'video/x-av1, stream-format=(string)obu-stream, alignment=(string)tu',
};

function header(type: number, length: number): Buffer {
  const h = Buffer.alloc(GDP_HEADER);
  h[0] = 1;
  h.writeUInt16BE(type, 4);
  h.writeUInt32BE(length, 6);
  for (const o of [10, 18, 26, 34, 44]) h.writeBigUInt64BE(CLOCK_TIME_NONE, o);
  return h;
}

function packet(type: number, text: string): Buffer {
  const payload = Buffer.from(`${text}\0`, 'utf8');
  return Buffer.concat([header(type, payload.length), payload]);
}

/**
 * What a stream starts with: stream-start, caps, and a time segment from 0, so buffer timestamps
 * are running times (elements downstream warn and misbehave on data before these events).
 */
export function gdpStreamStart(caps: string, streamId: string): Buffer {
  return Buffer.concat([
    packet(PAYLOAD_STREAM_START, `GstEventStreamStart, stream-id=(string)${streamId}, flags=(GstStreamFlags)GST_STREAM_FLAG_NONE, group-id=(uint)1;`),
    packet(PAYLOAD_CAPS, caps),
    packet(
      PAYLOAD_SEGMENT,
      'GstEventSegment, segment=(GstSegment)"segment, flags=(GstSegmentFlags)GST_SEGMENT_FLAG_NONE, rate=(double)1, applied-rate=(double)1, ' +
        'format=(GstFormat)time, base=(guint64)0, offset=(guint64)0, start=(guint64)0, stop=(guint64)18446744073709551615, time=(guint64)0, ' +
        'position=(guint64)0, duration=(guint64)18446744073709551615;";',
    ),
  ]);
}

/** Header of a buffer packet; the payload (`length` bytes) follows it on the wire. */
export function gdpBufferHeader(length: number, ptsNs: bigint, keyframe: boolean): Buffer {
  const h = header(PAYLOAD_BUFFER, length);
  h.writeBigUInt64BE(ptsNs, 10);
  h.writeBigUInt64BE(ptsNs, 44); // no B-frames from a zero-latency encoder: DTS = PTS
  h.writeUInt16BE(keyframe ? 0 : FLAG_DELTA_UNIT, 42);
  return h;
}
