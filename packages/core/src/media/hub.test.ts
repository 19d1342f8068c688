import { describe, expect, it } from 'vitest';
import { StreamHub } from './hub.js';
import type { EncodedFrame } from './types.js';

function frame(seq: number, keyframe: boolean): EncodedFrame {
  // SPS (profile 77 = main) + PPS + IDR, or a non-IDR slice.
  const data = keyframe
    ? Buffer.from([0, 0, 0, 1, 0x67, 77, 0, 30, 0xaa, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 1, 2, 3])
    : Buffer.from([0, 0, 0, 1, 0x41, 9, 9, 9]);
  return { stream: 's', seq, data, keyframe, codec: 'h264', captureTimeMs: seq, rtpTimestamp: seq * 6000, receivedAt: seq, width: 320, height: 240 };
}

describe('StreamHub', () => {
  it('starts a consumer at the next keyframe and gives a fast consumer every frame', () => {
    const hub = new StreamHub();
    const got: number[] = [];
    hub.subscribe('s', { name: 'fast', onFrame: (f) => void got.push(f.seq) });
    [frame(1, false), frame(2, true), frame(3, false), frame(4, false)].forEach((f) => hub.publish(f));
    expect(got).toEqual([2, 3, 4]);
    expect(hub.parameters('s')).toMatchObject({ profileLevelId: '4d001e', width: 320 });
  });

  it('lets a slow consumer drop to the next keyframe, counted, without delaying a fast one', async () => {
    const hub = new StreamHub();
    const fast: number[] = [];
    const slow: number[] = [];
    let release!: () => void;
    let blocked = new Promise<void>((r) => (release = r));
    hub.subscribe('s', { name: 'fast', onFrame: (f) => void fast.push(f.seq) });
    const slowConsumer = hub.subscribe('s', {
      name: 'slow',
      maxQueue: 8,
      onFrame: (f) => {
        slow.push(f.seq);
        return blocked; // stalled until released
      },
    });
    let seq = 0;
    const gop = () => [true, false, false, false, false].forEach((k) => hub.publish(frame(++seq, k)));
    gop(); // 1..5: slow takes 1 and stalls, 2..5 queue
    gop(); // 6..9 queue; 10 overflows the queue: 2..10 dropped, wait for a keyframe
    gop(); // 11 is a keyframe: 11..15 queued
    expect(fast).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(slowConsumer.stats.framesDropped).toBeGreaterThan(0);
    release();
    blocked = Promise.resolve();
    await new Promise((r) => setTimeout(r, 10));
    // What the slow consumer did receive always restarts at a keyframe: 1, then 11 onwards.
    expect(slow[0]).toBe(1);
    expect(slow.slice(1)[0]).toBe(11);
    expect(slowConsumer.stats.framesDropped + slow.length).toBe(15);
  });

  it('keeps the current GOP for snapshots and fast starts', () => {
    const hub = new StreamHub();
    [frame(1, true), frame(2, false), frame(3, true), frame(4, false)].forEach((f) => hub.publish(f));
    expect(hub.currentGop('s').map((f) => f.seq)).toEqual([3, 4]);
    const got: number[] = [];
    hub.subscribe('s', { name: 'late', startWithCachedGop: true, onFrame: (f) => void got.push(f.seq) });
    expect(got).toEqual([3, 4]);
  });

  it('isolates a consumer whose handler throws', () => {
    const hub = new StreamHub();
    const errors: unknown[] = [];
    const ok: number[] = [];
    hub.subscribe('s', {
      name: 'bad',
      onFrame: () => {
        throw new Error('bug');
      },
      onError: (e) => errors.push(e),
    });
    hub.subscribe('s', { name: 'good', onFrame: (f) => void ok.push(f.seq) });
    hub.publish(frame(1, true));
    expect(ok).toEqual([1]);
    expect(errors).toHaveLength(1);
  });
});

describe('StreamHub: a consumer bound to what it negotiated', () => {
  const h265Key = (seq: number): EncodedFrame => ({
    ...frame(seq, true),
    codec: 'h265',
    // VPS, SPS (main profile, level 60), PPS, IDR_W_RADL
    data: Buffer.from([
      0, 0, 0, 1, 0x40, 1, 0x0c, 0, 0, 0, 1, 0x42, 1, 1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 60, 0, 0, 0, 1, 0x44, 1, 0xc1, 0, 0, 0, 1, 0x26, 1, 9,
    ]),
  });

  it('never hands a frame of another codec to a consumer that accepts only H.264: it is closed with the reason instead', async () => {
    const hub = new StreamHub();
    const got: string[] = [];
    const rejected: string[] = [];
    const seen: string[] = [];
    hub.subscribe('s', {
      name: 'rtsp h264',
      accept: (p) => {
        seen.push(p.codec);
        return p.codec === 'h264' ? undefined : `the stream is now ${p.codec}`;
      },
      onRejected: (r) => rejected.push(r),
      onFrame: (f) => void got.push(`${f.codec}:${f.seq}`),
    });
    const all: number[] = [];
    hub.subscribe('s', { name: 'internal', onFrame: (f) => void all.push(f.seq) });
    [frame(1, true), frame(2, false), frame(3, true)].forEach((f) => hub.publish(f));
    hub.resetParameters('s');
    hub.publish(h265Key(4));
    hub.publish({ ...frame(5, false), codec: 'h265' });
    await Promise.resolve();
    expect(got).toEqual(['h264:1', 'h264:2', 'h264:3']);
    // Checked once per parameter change (the same SPS again is no change), not per frame.
    expect(seen).toEqual(['h264', 'h265']);
    expect(rejected).toEqual(['the stream is now h265']);
    expect(hub.consumers('s').map((c) => c.name)).toEqual(['internal']);
    expect(all).toEqual([1, 2, 3, 4, 5]);
    expect(hub.parameters('s')).toMatchObject({ codec: 'h265', h265: { profileId: 1, levelId: 60 } });
  });

  it('refuses a delta frame of another codec even before any parameters of it were seen', async () => {
    const hub = new StreamHub();
    const rejected: string[] = [];
    const got: number[] = [];
    hub.subscribe('s', {
      name: 'c',
      accept: (p) => (p.codec === 'h264' ? undefined : 'no'),
      onRejected: (r) => rejected.push(r),
      onFrame: (f) => void got.push(f.seq),
    });
    hub.publish(frame(1, true));
    hub.publish({ ...frame(2, false), codec: 'mjpeg' });
    await Promise.resolve();
    expect(got).toEqual([1]);
    expect(rejected).toEqual(['no']);
  });

  it('keeps one parameters object while they do not change, so a JPEG stream (a keyframe per frame) is checked once', () => {
    const hub = new StreamHub();
    let checks = 0;
    hub.subscribe('s', { name: 'mjpeg', accept: () => void checks++, onFrame: () => undefined });
    for (let i = 1; i <= 5; i++) hub.publish({ ...frame(i, true), codec: 'mjpeg', data: Buffer.from([0xff, 0xd8]) });
    expect(checks).toBe(1);
  });
});
