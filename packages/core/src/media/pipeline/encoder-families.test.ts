import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, useStandins, type TestHost } from '../../testing/index.js';
import type { StreamManager } from './manager.js';

/**
 * The boards' hardware encoder families, proven with stand-ins (see packages/core/standins): Python
 * elements under the real names and with the real properties and units, wrapping x264enc. The
 * stand-ins for V4L2 M2M (node video11) and Rockchip (mpp_service) have no device node here, as a
 * board whose kernel lacks the driver: their trial encodes fail; VA (renderD128) and Jetson
 * (nvhost-msenc) have theirs.
 */
const standins = useStandins({ nodes: ['renderD128', 'nvhost-msenc'] });
afterAll(() => standins.cleanup());

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

interface EncoderStats {
  element: string;
  family: string;
  hardware: boolean;
  reason: string;
  bitrate: string;
}
type Stats = Record<string, { state: string; encoder: EncoderStats; currentBitrate: number; uptime: number; restarts: number }>;
const stats = async (h: TestHost) => (await (await h.fetch('/api/stats')).json()) as Stats;
const playing = (h: TestHost) =>
  until(async () => ((await stats(h)).stream1?.state === 'playing' ? (await stats(h)).stream1 : undefined), 30_000, 'stream1 playing');
const manager = (h: TestHost) => h.host.media as StreamManager;

describe('hardware encoder families (stand-ins)', () => {
  it('hardware before software after a trial encode: V4L2 fails its trial (no node) and falls through to VA, logged and named in stats', async () => {
    host = await createTestHost({ config: { streams: [testStream()] } });
    const s = await playing(host);
    expect(s.encoder).toMatchObject({ element: 'vah264enc', family: 'va', hardware: true, bitrate: 'live (property bitrate, kbit/s)' });
    expect(s.encoder.reason).toMatch(
      /^hardware \(va\), trial encode passed in \d+ ms, after v4l2h264enc failed its trial encode \(Cannot identify device '.*\/video11'\./,
    );
    expect(host.recentLog()).toMatch(/v4l2h264enc failed its trial encode \(Cannot identify device .*video11.*\); the next candidate is used/);
    // VA takes NV12, its own layout (so do the stream's finished pictures at its tee).
    expect(manager(host).launchText('stream1')).toMatch(
      /video\/x-raw,format=NV12 ! tee name=camd_fanout allow-not-linked=true ! queue .* ! vah264enc name=encoder rate-control=cbr bitrate=500 key-int-max=15 b-frames=0/,
    );
  });

  it('H.265 and JPEG pick their own families; with no hardware left, software says why', async () => {
    standins.node('renderD128', false);
    standins.node('nvhost-msenc', false);
    try {
      host = await createTestHost({ config: { streams: [testStream({ codec: 'h265' }), testStream({ path: '/stream2', codec: 'mjpeg' })] } });
      const h = host;
      const all = await until(async () => {
        const x = await stats(h);
        return x.stream1?.state === 'playing' && x.stream2?.state === 'playing' && x;
      });
      expect(all.stream1!.encoder).toMatchObject({ element: 'x265enc', hardware: false });
      expect(all.stream1!.encoder.reason).toMatch(
        /^software, after v4l2h265enc failed its trial encode .*; vah265enc failed .*; nvv4l2h265enc failed .*; mpph265enc failed/,
      );
      expect(all.stream2!.encoder).toMatchObject({ element: 'jpegenc', hardware: false, bitrate: 'not applied: it has no bitrate' });
    } finally {
      standins.node('renderD128', true);
      standins.node('nvhost-msenc', true);
    }
  });

  // Each family's bitrate in its own units, changed while playing: same pipeline, the element's own
  // property read back, and what the stand-in's x264enc was given (kbit/s).
  const families = [
    { encoder: 'vah264enc', property: 'bitrate', expect: (v: unknown) => expect(v).toBe(1200) },
    { encoder: 'vaapih264enc', property: 'bitrate', expect: (v: unknown) => expect(v).toBe(1200) },
    { encoder: 'nvv4l2h264enc', property: 'bitrate', expect: (v: unknown) => expect(v).toBe(1_200_000) },
    { encoder: 'nvv4l2h265enc', codec: 'h265' as const, property: 'bitrate', expect: (v: unknown) => expect(v).toBe(1_200_000) },
    { encoder: 'mpph264enc', property: 'bps', expect: (v: unknown) => expect(v).toBe(1_200_000), node: 'mpp_service' as const },
    {
      encoder: 'v4l2h264enc',
      property: 'extra-controls',
      expect: (v: unknown) => expect(String(v)).toMatch(/video_bitrate=\(int\)1200000/),
      node: 'video11' as const,
    },
  ];
  for (const f of families) {
    it(`${f.encoder}: bitrate in its units, changed live without a rebuild`, async () => {
      if (f.node) standins.node(f.node, true);
      try {
        host = await createTestHost({ config: { streams: [testStream({ encoder: f.encoder, codec: f.codec ?? 'h264', source: 'videotestsrc:snow' })] } });
        const before = await playing(host);
        expect(before.encoder).toMatchObject({ element: f.encoder, hardware: true });
        expect(before.encoder.reason).toMatch(/^configured \(encoder "/);
        const m = manager(host);
        const pipeline = m.pipelineId('stream1');
        expect(await m.elementProperty('stream1', 'inner', 'bitrate')).toBe(500);
        expect((await putState(host, 'streamBitrate', 1_200_000)).status).toBe(200);
        await until(async () => (await m.elementProperty('stream1', 'inner', 'bitrate')) === 1200, 10_000, 'the stand-in encoder at 1200 kbit/s');
        f.expect(await m.elementProperty('stream1', 'encoder', f.property));
        expect(m.pipelineId('stream1')).toBe(pipeline);
        expect(host.recentLog()).toContain('settings applied to the running pipeline');
        expect(host.recentLog()).not.toContain('rebuilding the pipeline');
      } finally {
        if (f.node) standins.node(f.node, false);
      }
    });
  }

  it('openh264enc, the lighter software H.264 fallback: bitrate in bit/s, changed live without a rebuild', async () => {
    host = await createTestHost({ config: { streams: [testStream({ encoder: 'openh264enc', source: 'videotestsrc:snow' })] } });
    const before = await playing(host);
    expect(before.encoder).toMatchObject({ element: 'openh264enc', family: 'software', hardware: false, bitrate: 'live (property bitrate, bit/s)' });
    expect(before.encoder.reason).toBe('configured (encoder "openh264enc")');
    const m = manager(host);
    const pipeline = m.pipelineId('stream1');
    expect(await m.elementProperty('stream1', 'encoder', 'bitrate')).toBe(500_000);
    expect((await putState(host, 'streamBitrate', 1_200_000)).status).toBe(200);
    await until(async () => (await m.elementProperty('stream1', 'encoder', 'bitrate')) === 1_200_000, 10_000, 'openh264enc at 1.2 Mbit/s');
    expect(m.pipelineId('stream1')).toBe(pipeline);
    expect(host.recentLog()).not.toContain('rebuilding the pipeline');
  });

  it('the bitrate reaches the encoder in the right units: measured output follows the target (VA, kbit/s)', async () => {
    // Noise does not compress: the encoder spends what it is given.
    host = await createTestHost({ config: { streams: [testStream({ source: 'videotestsrc:snow', bitrate: 300_000 })] } });
    const h = host;
    await playing(h);
    const measured = async (target: number) =>
      until(
        async () => {
          const b = (await stats(h)).stream1!.currentBitrate;
          return b > 0.5 * target && b < 1.6 * target && b;
        },
        20_000,
        `a bitrate near ${target}`,
      );
    await measured(300_000);
    expect((await putState(h, 'streamBitrate', 1_200_000)).status).toBe(200);
    await measured(1_200_000);
  });
});
