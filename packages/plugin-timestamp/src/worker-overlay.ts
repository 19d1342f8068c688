/**
 * Runs inside the pipeline worker. For every frame, on GStreamer's streaming thread and before the
 * overlays draw it, computes the frame's capture wall-clock time (pipeline base time + running time)
 * and sets the text overlay's text and the time-code picture: both show exactly that frame's capture time.
 */
import type { WorkerAttachContext } from '@camd/core';
import { codeBits, codeGeometry, GRID } from './timecode.js';
import { formatTimestamp } from './format.js';

export interface OverlayWorkerOptions {
  format: string;
  width: number;
  height: number;
}

export const ELEMENT = { clock: 'camd_ts_clock', text: 'camd_ts_text', code: 'camd_ts_code' } as const;

export function attach(ctx: WorkerAttachContext): () => void {
  const opts = ctx.options as OverlayWorkerOptions;
  const gi = ctx.gi as { require(ns: string, v: string): any };
  const GdkPixbuf = gi.require('GdkPixbuf', '2.0');
  const clock = ctx.pipeline.getByName(ELEMENT.clock);
  const text = ctx.pipeline.getByName(ELEMENT.text);
  const code = ctx.pipeline.getByName(ELEMENT.code);
  const { cell, size } = codeGeometry(opts.width, opts.height);
  // Two pictures made once and redrawn in place with native fills (allocating a pixbuf per frame leaks
  // in node-gtk); alternating them makes the overlay see a new picture on every frame.
  const pictures = [0, 1].map(() => GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, false, 8, size, size));
  const cells = pictures.map((pb: any) =>
    Array.from({ length: GRID * GRID }, (_, i) => pb.newSubpixbuf((1 + (i % GRID)) * cell, (1 + Math.floor(i / GRID)) * cell, cell, cell)),
  );
  let turn = 0;
  const handler = (buffer: { pts: bigint }) => {
    const base = ctx.pipeline.getBaseTime() as bigint;
    const ms = Number((base + buffer.pts) / 1000n) / 1000;
    if (text && !text.silent) text.text = formatTimestamp(ms, opts.format);
    if (code && code.alpha > 0) {
      turn ^= 1;
      const pb = pictures[turn];
      pb.fill(0xffffffff);
      codeBits(ms).forEach((bit, i) => bit && cells[turn]![i].fill(0x000000ff));
      code.pixbuf = pb;
    }
  };
  const id: number = clock.connect('handoff', handler);
  return () => clock.disconnect(id);
}
