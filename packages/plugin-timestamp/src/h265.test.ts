import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import timestamp from './index.js';
import { readTimecodes } from './reader.js';
import { decodeTimecode } from './timecode.js';
import { collectFrames, decodeH264 } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

describe('time code on an H.265 stream', () => {
  it('every decoded frame carries the capture time camd reported for it, and RTSP readers read it with a plausible latency', async () => {
    const port = await freePort();
    host = await createTestHost({
      // The time code (off by default) is what these tests read.
      plugins: [
        { def: rtsp, options: { port, host: '127.0.0.1' } },
        { def: timestamp, options: { timecode: true } },
      ],
      config: { streams: [testStream({ codec: 'h265', bitrate: 800_000, source: 'videotestsrc:smpte' })] },
    });
    expect((await host.host.hub.waitForParameters('stream1', 20_000)).codec).toBe('h265');

    const frames = await collectFrames(host.host.hub, 'stream1', 10, 20_000);
    expect(frames.every((f) => f.codec === 'h265')).toBe(true);
    const decoded = await decodeH264(Buffer.concat(frames.map((f) => f.data)), 320, 240, 'hevc');
    expect(decoded.length).toBe(frames.length);
    decoded.forEach((frame, i) => {
      const ms = decodeTimecode({ ...frame, format: 'GRAY' });
      expect(ms, `time code of frame ${i}`).toBeDefined();
      // base time + running time, truncated to µs by GLib (twice): within 2 µs of camd's figure.
      expect(Math.abs(ms! - frames[i]!.captureTimeMs)).toBeLessThan(0.002);
    });

    const samples = await readTimecodes(`rtsp://viewer:viewer-secret@127.0.0.1:${port}/stream1`, { frames: 30 });
    // The reader's ffmpeg runs with -fflags nobuffer, which drops what it read while probing; for
    // H.265 that is the keyframe (it probes the first packets), so it starts decoding mid-GOP and its
    // first pictures miss their references. From its first whole picture on, every one must read.
    const first = samples.findIndex((s) => s.embeddedMs !== undefined);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(15);
    const readable = samples.slice(first).filter((s) => s.embeddedMs !== undefined);
    expect(readable.length).toBe(samples.length - first);
    for (const s of readable) {
      expect(s.latencyMs!).toBeGreaterThan(0);
      expect(s.latencyMs!).toBeLessThan(2000);
    }
  });
});
