import type { EncoderCandidate, TrialRequest } from '../registry.js';
import type { StreamSettings } from '../types.js';
import { DECODER_TRIAL_INPUT, type DecoderCandidate } from './decoders.js';

/** The element whose output a trial checks: it passes when a buffer reached it before end of stream. */
export const TRIAL_SINK = 'camd_trial_out';

/** A trial encodes a small picture: it proves the element and its device work, not the stream's size. */
const TRIAL = { width: 640, height: 480, fps: 30 };

function trialSettings(codec: EncoderCandidate['codec']): StreamSettings {
  return {
    // A derived encoder (VP8, VP9, AV1) encodes a stream's pictures: only their size, rate and bitrate matter to it.
    name: 'trial',
    path: '/trial',
    source: { kind: 'test', pattern: 'smpte' },
    ...TRIAL,
    bitrate: 1_000_000,
    codec: codec === 'h264' || codec === 'h265' || codec === 'mjpeg' ? codec : 'h264',
    // Main: what every H.264 encoder here does (openh264 pins its own constrained-baseline).
    profile: 'main',
    preset: 'fast',
    gop: TRIAL.fps,
  };
}

const rawInput = (format: string, frames: number) =>
  `videotestsrc num-buffers=${frames} ! video/x-raw,format=${format},width=${TRIAL.width},height=${TRIAL.height},framerate=${TRIAL.fps}/1`;

/** Two frames through the encoder exactly as a stream would use it (its launch text, its input format). */
export function encoderTrial(c: EncoderCandidate): TrialRequest {
  const choice = c.build(trialSettings(c.codec));
  return {
    factory: c.factory,
    launch: `${rawInput(choice.inputFormat ?? 'I420', 2)} ! ${choice.launch} ! fakesink name=${TRIAL_SINK}`,
    elements: ['videotestsrc', ...choice.elements],
  };
}

/** One picture encoded in software and decoded by the decoder. */
export function decoderTrial(d: DecoderCandidate): TrialRequest {
  const input = DECODER_TRIAL_INPUT[d.format];
  return {
    factory: d.factory,
    launch: `${rawInput('I420', 1)} ! ${input.launch} ! ${d.launch} ! fakesink name=${TRIAL_SINK}`,
    elements: ['videotestsrc', ...input.elements, ...d.elements],
  };
}
