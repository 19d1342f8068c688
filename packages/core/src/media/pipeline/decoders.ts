import type { SourceFormat } from '../source-caps.js';

/** A decoder for what a camera delivers already encoded (JPEG, H.264, H.265), turning it into raw frames. */
export interface DecoderCandidate {
  readonly factory: string;
  readonly format: Exclude<SourceFormat, 'raw'>;
  readonly hardware: boolean;
  /** `v4l2`, `va`, `rockchip` or `software`. */
  readonly family: string;
  /** Launch text from the source's caps to raw frames. */
  readonly launch: string;
  readonly elements: readonly string[];
}

const dec = (factory: string, format: DecoderCandidate['format'], family: string): DecoderCandidate => {
  // JPEG frames are whole pictures; H.264/H.265 from a camera are parsed into access units first.
  const parse = format === 'jpeg' ? [] : [`${format}parse`];
  return { factory, format, hardware: family !== 'software', family, launch: [...parse, factory].join(' ! '), elements: [...parse, factory] };
};

/**
 * Decoders, best first: the boards' hardware ones (V4L2 M2M, VA, Rockchip MPP), which hand system
 * memory to `videoconvert` when asked, then software (jpegdec; libav's from gstreamer1.0-libav).
 * Jetson's decoders output NVMM buffers only and are left out: a Jetson decodes a camera's JPEG in
 * software here. A hardware decoder is used only once its trial decode passed.
 */
export const DECODERS: readonly DecoderCandidate[] = [
  dec('v4l2jpegdec', 'jpeg', 'v4l2'),
  dec('vajpegdec', 'jpeg', 'va'),
  dec('mppjpegdec', 'jpeg', 'rockchip'),
  dec('jpegdec', 'jpeg', 'software'),
  dec('v4l2h264dec', 'h264', 'v4l2'),
  dec('vah264dec', 'h264', 'va'),
  dec('mppvideodec', 'h264', 'rockchip'),
  dec('avdec_h264', 'h264', 'software'),
  dec('v4l2h265dec', 'h265', 'v4l2'),
  dec('vah265dec', 'h265', 'va'),
  dec('mppvideodec', 'h265', 'rockchip'),
  dec('avdec_h265', 'h265', 'software'),
];

/** One encoded test picture of a format, from software encoders, for a decoder's trial. */
export const DECODER_TRIAL_INPUT: Record<DecoderCandidate['format'], { launch: string; elements: readonly string[] }> = {
  jpeg: { launch: 'jpegenc', elements: ['jpegenc'] },
  h264: { launch: 'x264enc ! video/x-h264,profile=main', elements: ['x264enc'] },
  h265: { launch: 'x265enc', elements: ['x265enc'] },
};
