/**
 * Runs inside the pipeline worker. For every frame, on GStreamer's streaming thread and before the
 * overlays draw it, computes the frame's capture wall-clock time (pipeline base time + running time)
 * and sets the text overlay's text and the time-code picture: both show exactly that frame's capture time.
 */
import type { WorkerAttachContext } from '@camd/core';
import { codeGeometry, renderCode } from './timecode.js';
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
  const GLib = gi.require('GLib', '2.0');
  const clock = ctx.pipeline.getByName(ELEMENT.clock);
  const text = ctx.pipeline.getByName(ELEMENT.text);
  const code = ctx.pipeline.getByName(ELEMENT.code);
  const { cell, size } = codeGeometry(opts.width, opts.height);
  const handler = (buffer: { pts: bigint }) => {
    const base = ctx.pipeline.getBaseTime() as bigint;
    const ms = Number((base + buffer.pts) / 1000n) / 1000;
    if (text && !text.silent) text.text = formatTimestamp(ms, opts.format);
    if (code && code.alpha > 0) {
      const px = renderCode(ms, cell);
      code.pixbuf = GdkPixbuf.Pixbuf.newFromBytes(GLib.Bytes.new(px), GdkPixbuf.Colorspace.RGB, false, 8, size, size, size * 3);
    }
  };
  const id = clock.on('handoff', handler);
  return () => {
    if (typeof id === 'number') clock.disconnect?.(id);
  };
}
