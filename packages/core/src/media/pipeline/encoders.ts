import type { EncoderCandidate } from '../registry.js';
import type { EncoderChoice, EncoderPreset, StreamSettings } from '../types.js';
import { getLatencyMs } from '../../rules.js';

/**
 * The `encoderPreset` values (ultrafast, fast, medium, slow) are quality tiers. On a CPU, x264 must stay live at 1080p60 on two cores
 * (measured: ultrafast ≈ 45 %, superfast ≈ 67 %, veryfast ≈ 86 % of one core), so the tiers map onto
 * x264's faster presets; a hardware encoder has its own notion of speed and ignores them.
 */
export const X264_PRESET: Record<EncoderPreset, string> = {
  ultrafast: 'ultrafast',
  fast: 'superfast',
  medium: 'veryfast',
  slow: 'faster',
};

/** Browsers decode constrained-baseline, not plain baseline. */
function h264CapsProfile(p: StreamSettings['profile']): string {
  return p === 'baseline' ? 'constrained-baseline' : p;
}

/**
 * x264 signals the lowest profile its chosen tools fit in (ultrafast turns CABAC off: Constrained
 * Baseline). Turn on the tools that define the configured profile so clients see what was configured.
 */
const X264_PROFILE_TOOLS: Record<StreamSettings['profile'], string> = {
  baseline: 'cabac=0:8x8dct=0',
  main: 'cabac=1:8x8dct=0',
  high: 'cabac=1:8x8dct=1',
};
/**
 * A fixed GOP, as a camera promises (ONVIF GovLength): x264's scene-cut detection otherwise inserts
 * IDR and I frames whenever the picture changes a lot. On the 1080p test pattern with its noise, that
 * meant 10 IDRs a second, bitrate spent on intra frames, and I frames without parameter sets that
 * looked like join points.
 */
const X264_FIXED_GOP = 'scenecut=0';

/**
 * x264's buffering by `streamLatencyMode` (see `x264Latency`). B-frames stay off in every mode:
 * browsers' WebRTC decoders and many NVRs expect none.
 */
export function x264Latency(s: StreamSettings): string {
  const mode = s.latencyMode ?? 'low';
  // low: tune=zerolatency turns off lookahead, MB-tree and frame threads (sliced threads instead):
  // a frame leaves the encoder as soon as it is coded.
  if (mode === 'low') return 'tune=zerolatency vbv-buf-capacity=1000';
  // normal/high: rate control looks ahead over a quarter of the budget (MB-tree spends bits on what
  // later frames reference), frame threads; the VBV buffer spans the budget, at least 1 s.
  const budgetMs = getLatencyMs(mode);
  const lookahead = Math.min(X264_MAX_LOOKAHEAD, Math.max(1, Math.floor((budgetMs / 4 / 1000) * s.fps)));
  return `rc-lookahead=${lookahead} mb-tree=true sliced-threads=false vbv-buf-capacity=${Math.max(1000, budgetMs)}`;
}

/** x264's own limit for rc-lookahead. */
const X264_MAX_LOOKAHEAD = 250;

function x264(s: StreamSettings): EncoderChoice {
  const kbps = Math.max(1, Math.round(s.bitrate / 1000));
  return {
    owner: 'core',
    factory: 'x264enc',
    codec: 'h264',
    hardware: false,
    launch:
      `x264enc name=encoder ${x264Latency(s)} speed-preset=${X264_PRESET[s.preset]} bitrate=${kbps} ` +
      `key-int-max=${s.gop} bframes=0 byte-stream=true aud=false option-string=${X264_PROFILE_TOOLS[s.profile]}:${X264_FIXED_GOP} ! video/x-h264,profile=${h264CapsProfile(s.profile)}`,
    elements: ['x264enc'],
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 },
  };
}

function v4l2h264(s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'v4l2h264enc',
    codec: 'h264',
    hardware: true,
    launch: `v4l2h264enc name=encoder extra-controls="controls,video_bitrate=${s.bitrate},h264_i_frame_period=${s.gop}" ! video/x-h264,profile=${h264CapsProfile(s.profile)},level=(string)4.2`,
    elements: ['v4l2h264enc'],
  };
}

function openh264(s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'openh264enc',
    codec: 'h264',
    hardware: false,
    launch: `openh264enc name=encoder bitrate=${s.bitrate} gop-size=${s.gop} complexity=low rate-control=bitrate ! video/x-h264,profile=constrained-baseline`,
    elements: ['openh264enc'],
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1 },
  };
}

function x265(s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'x265enc',
    codec: 'h265',
    hardware: false,
    launch: `x265enc name=encoder tune=zerolatency speed-preset=${X264_PRESET[s.preset]} bitrate=${Math.max(1, Math.round(s.bitrate / 1000))} key-int-max=${s.gop}`,
    elements: ['x265enc'],
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 },
  };
}

function jpeg(_s: StreamSettings): EncoderChoice {
  return { owner: 'core', factory: 'jpegenc', codec: 'mjpeg', hardware: false, launch: 'jpegenc name=encoder quality=85', elements: ['jpegenc'] };
}

const candidate = (
  factory: string,
  codec: EncoderCandidate['codec'],
  hardware: boolean,
  priority: number,
  build: (s: StreamSettings) => EncoderChoice,
): EncoderCandidate => ({
  owner: 'core',
  factory,
  codec,
  hardware,
  priority,
  build,
});

/** Core's encoder candidates; a board plugin registers its own through `ctx.registry.registerEncoder`. */
export function defaultEncoderCandidates(): EncoderCandidate[] {
  return [
    candidate('v4l2h264enc', 'h264', true, 100, v4l2h264),
    candidate('x264enc', 'h264', false, 100, x264),
    candidate('openh264enc', 'h264', false, 50, openh264),
    candidate('x265enc', 'h265', false, 100, x265),
    candidate('jpegenc', 'mjpeg', false, 100, jpeg),
  ];
}
