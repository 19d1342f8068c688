import { afterEach, describe, expect, it } from 'vitest';
import { freePort, putState, until } from '@camd/core/testing';
import { ffmpegReader, ffprobe, rtspHost, type RtspTestHost } from './test-utils.js';

let h: RtspTestHost | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('plugin-rtsp settings apply live', () => {
  it('rtspEnabled=false closes sessions and the port; true serves again', async () => {
    h = await rtspHost();
    await h.host.hub.waitForParameters('stream1', 15_000);
    const reader = ffmpegReader(h.url(), 'tcp');
    try {
      await until(() => reader.frames() > 0, 15_000, 'the reader to play');
      expect((await putState(h, 'rtspEnabled', false)).status).toBe(200);
      await new Promise<void>((resolve) => (reader.child.exitCode !== null ? resolve() : reader.child.once('exit', () => resolve())));
      expect((await ffprobe(h.url())).error).toMatch(/Connection refused/);
      expect((await putState(h, 'rtspEnabled', true)).status).toBe(200);
      expect((await ffprobe(h.url())).streams?.[0]?.width).toBe(320);
    } finally {
      await reader.stop();
    }
  });

  it('readers over TCP and UDP keep their sessions through a media-process crash and play again by themselves', async () => {
    h = await rtspHost();
    await h.host.hub.waitForParameters('stream1', 15_000);
    const readers = [ffmpegReader(h.url(), 'tcp'), ffmpegReader(h.url(), 'udp')];
    try {
      await until(() => readers.every((r) => r.frames() > 10), 20_000, 'both readers to get frames');
      expect(h.killMediaProcess()).toHaveLength(1);
      const atCrash = readers.map((r) => r.frames());
      // The pipeline restarts after its backoff (1 s); the same ffmpeg processes get frames again.
      await until(() => readers.every((r, i) => r.frames() > atCrash[i]! + 30), 20_000, 'both readers to get frames again');
      expect(readers.every((r) => r.child.exitCode === null)).toBe(true);
      const stats = (await (await h.fetch('/api/stats')).json()) as Record<string, { clientCount: number; restarts: number }>;
      expect(stats.stream1).toMatchObject({ clientCount: 2, restarts: 1 });
    } finally {
      await Promise.all(readers.map((r) => r.stop()));
    }
  });

  it('a new rtspPort rebinds the server; rtspPath is read-only for everyone', async () => {
    h = await rtspHost();
    await h.host.hub.waitForParameters('stream1', 15_000);
    const port = await freePort();
    expect((await putState(h, 'rtspPort', port)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const moved = h.url().replace(`:${h.rtspPort}/`, `:${port}/`);
    expect((await ffprobe(moved)).streams?.[0]?.width).toBe(320);
    expect((await ffprobe(h.url())).error).toMatch(/Connection refused/);
    expect((await putState(h, 'rtspPath', '/other')).status).toBe(403);
    expect((await putState(h, 'rtspPort', 70000)).status).toBe(400);
  });
});
