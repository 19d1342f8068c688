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

describe('StreamHub lag budget (streamLatencyMode)', () => {
  /** 30 fps for `seconds`, a keyframe every `gop` frames, arrival times 33.3 ms apart. */
  function publishFor(hub: StreamHub, seconds: number, gop: number, from = 0): number {
    const n = Math.round(seconds * 30);
    for (let i = 0; i < n; i++) {
      const seq = from + i + 1;
      hub.publish({ ...frame(seq, (seq - 1) % gop === 0), receivedAt: (seq * 1000) / 30 });
    }
    return from + n;
  }

  /** A consumer that takes the first frame and then stalls until released. */
  function stalledConsumer(hub: StreamHub) {
    const got: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const consumer = hub.subscribe('s', {
      name: 'stalled',
      maxQueue: 8, // a transport's small frame cap: the budget, not the count, decides
      onFrame: (f) => {
        got.push(f.seq);
        return got.length === 1 ? blocked : undefined;
      },
    });
    return { got, consumer, release };
  }

  it('high (2000 ms): a reader stalled for 1 s keeps every frame', async () => {
    const hub = new StreamHub();
    hub.setLagBudget(2000);
    const r = stalledConsumer(hub);
    const last = publishFor(hub, 1.0, 30); // frame 1 in flight (stalled), 2..30 wait: 0.93 s behind
    r.release();
    await new Promise((res) => setTimeout(res, 10));
    expect(r.got).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(r.consumer.stats.framesDropped).toBe(0);
  });

  it('low (100 ms): a reader stalled for 1 s drops to the next keyframe', async () => {
    const hub = new StreamHub();
    hub.setLagBudget(100);
    const r = stalledConsumer(hub);
    let last = publishFor(hub, 1.0, 30); // 1 in flight; 2.. start waiting, dropped once 100 ms behind
    last = publishFor(hub, 0.5, 30, last); // 31 is the next keyframe; still stalled: dropped again past 100 ms
    r.release();
    await new Promise((res) => setTimeout(res, 10));
    // After the first frame, what it received starts at a keyframe and is at most 100 ms of frames.
    expect(r.got[0]).toBe(1);
    expect(r.consumer.stats.framesDropped).toBeGreaterThan(25);
    expect(r.got.length - 1).toBeLessThanOrEqual(4);
    expect(r.consumer.stats.framesDropped + r.got.length).toBe(last);
    // Once it keeps up again, it resumes at the next keyframe and then gets every frame.
    const before = r.got.length;
    last = publishFor(hub, 1.0, 30, last);
    const resumed = r.got.slice(before);
    expect(resumed[0]).toBe(61);
    expect(resumed.at(-1)).toBe(last);
  });

  it('changes the budget for connected consumers, and a consumer may opt out', async () => {
    const hub = new StreamHub();
    hub.setLagBudget(2000);
    const r = stalledConsumer(hub);
    // A consumer with its own budget (null: none) ignores the hub's.
    const own: number[] = [];
    let releaseOwn!: () => void;
    const ownBlocked = new Promise<void>((res) => (releaseOwn = res));
    hub.subscribe('s', { name: 'own', maxQueue: 1000, lagBudgetMs: null, onFrame: (f) => (own.push(f.seq), own.length === 1 ? ownBlocked : undefined) });
    hub.setLagBudget(100);
    publishFor(hub, 1.0, 30);
    r.release();
    releaseOwn();
    await new Promise((res) => setTimeout(res, 10));
    expect(r.consumer.stats.framesDropped).toBeGreaterThan(0);
    expect(own).toHaveLength(30);
  });

  it('counts every byte its clients received since start, including clients that left', () => {
    const hub = new StreamHub();
    const a = hub.subscribe('s', { name: 'a', onFrame: () => {} });
    hub.subscribe('s', { name: 'internal', internal: true, onFrame: () => {} });
    hub.publish(frame(1, true));
    hub.publish(frame(2, false));
    const bytes = frame(1, true).data.length + frame(2, false).data.length;
    expect(hub.totals('s')).toEqual({ framesDelivered: 2, bytesDelivered: bytes });
    a.close();
    // The last reader left: the total stays.
    expect(hub.consumers('s')).toHaveLength(0);
    expect(hub.totals('s')).toEqual({ framesDelivered: 2, bytesDelivered: bytes });
    const b = hub.subscribe('s', { name: 'b', onFrame: () => {} });
    hub.publish(frame(3, true));
    expect(hub.totals('s').bytesDelivered).toBe(bytes + frame(3, true).data.length);
    expect(b.stats.bytesDelivered).toBe(frame(3, true).data.length);
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
