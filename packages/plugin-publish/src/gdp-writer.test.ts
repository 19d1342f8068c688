import { describe, expect, it } from 'vitest';
import { GdpReader } from '@camd/core';
import { gdpBufferHeader, gdpStreamStart, H264_AU_CAPS } from './gdp-writer.js';

describe('GDP writer', () => {
  it("writes what core's GDP reader (gdppay's format) reads back: events, caps, timestamps and keyframe flags", () => {
    const au = Buffer.from([0, 0, 0, 1, 0x65, 1, 2, 3]);
    const wire = Buffer.concat([
      gdpStreamStart(H264_AU_CAPS, 'camd-stream1'),
      gdpBufferHeader(au.length, 0n, true),
      au,
      gdpBufferHeader(au.length, 66_666_667n, false),
      au,
    ]);
    const packets = new GdpReader().push(wire);
    expect(packets.map((p) => p.kind)).toEqual(['event', 'caps', 'event', 'buffer', 'buffer']);
    expect(packets[1]).toEqual({ kind: 'caps', caps: H264_AU_CAPS });
    expect((packets[2] as { structure: string }).structure).toMatch(/^GstEventSegment, .*format=\(GstFormat\)time/);
    expect(packets[3]).toMatchObject({ kind: 'buffer', pts: 0n, dts: 0n, duration: undefined, flags: 0, data: au });
    expect(packets[4]).toMatchObject({ pts: 66_666_667n, flags: 0x2000 });
  });
});
