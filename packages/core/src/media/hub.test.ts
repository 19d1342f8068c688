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
