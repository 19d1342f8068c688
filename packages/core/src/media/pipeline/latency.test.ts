import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { rawQueue } from './launch.js';
import { x264Latency } from './encoders.js';
import type { StreamSettings } from '../types.js';

const stream = (over: Partial<StreamSettings> = {}): StreamSettings => ({
  name: 'stream1',
  path: '/stream1',
  source: { kind: 'test', pattern: 'smpte' },
  width: 1920,
  height: 1080,
  fps: 30,
  bitrate: 4_000_000,
  codec: 'h264',
  profile: 'main',
  preset: 'fast',
  gop: 30,
  ...over,
});

describe('streamLatencyMode in the pipeline', () => {
  it('raw queues: half the budget each, leaky; low also at most 2 frames; normal/high capped in bytes', () => {
    expect(rawQueue(stream())).toBe('queue max-size-buffers=2 max-size-bytes=0 max-size-time=50000000 leaky=downstream');
    expect(rawQueue(stream({ latencyMode: 'low' }))).toBe(rawQueue(stream()));
    expect(rawQueue(stream({ latencyMode: 'normal', width: 320, height: 240 }))).toBe(
      'queue max-size-buffers=0 max-size-bytes=33554432 max-size-time=250000000 leaky=downstream',
    );
    expect(rawQueue(stream({ latencyMode: 'high' }))).toContain('max-size-time=1000000000');
    // 4K: 12 MiB a frame, still two fit.
    expect(rawQueue(stream({ latencyMode: 'high', width: 3840, height: 2160 }))).toContain(
      `max-size-bytes=${Math.max(2 * 3840 * 2160 * 1.5, 32 * 1024 * 1024)}`,
    );
  });

  it('x264: zerolatency in low; lookahead over half the budget in normal and high, at most 30 frames and 64 MiB', () => {
    expect(x264Latency(stream())).toBe('tune=zerolatency vbv-buf-capacity=1000');
    expect(x264Latency(stream({ latencyMode: 'normal', width: 320, height: 240 }))).toBe(
      'rc-lookahead=7 mb-tree=true sliced-threads=false vbv-buf-capacity=1000',
    );
    expect(x264Latency(stream({ latencyMode: 'normal', fps: 60, width: 320, height: 240 }))).toContain('rc-lookahead=15 ');
    expect(x264Latency(stream({ latencyMode: 'high', width: 320, height: 240 }))).toContain('rc-lookahead=30 ');
    // 1080p: 3 MiB a frame, 21 fit in 64 MiB.
    expect(x264Latency(stream({ latencyMode: 'high' }))).toContain('rc-lookahead=21 ');
    expect(x264Latency(stream({ latencyMode: 'high', width: 3840, height: 2160 }))).toContain('rc-lookahead=5 ');
  });

  it('every mode gives launch text GStreamer accepts', () => {
    for (const latencyMode of ['low', 'normal', 'high'] as const) {
      const s = stream({ latencyMode, width: 320, height: 240 });
      const launch = `videotestsrc num-buffers=40 ! ${rawQueue(s)} ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! ${rawQueue(s)} ! x264enc ${x264Latency(s)} speed-preset=ultrafast bitrate=300 bframes=0 ! h264parse ! fakesink`;
      execFileSync('gst-launch-1.0', ['-q', ...launch.split(' ')], { stdio: 'pipe', timeout: 20_000 });
    }
  });
});
