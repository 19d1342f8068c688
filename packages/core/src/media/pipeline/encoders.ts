import type { EncoderCandidate } from '../registry.js';
import type { EncoderChoice, EncoderPreset, StreamSettings } from '../types.js';
import { getLatencyMs } from '../../rules.js';
import { levelLimits } from '../encoder-limits.js';
import { candidate, h264CapsProfile } from './encoder-candidate.js';
import { hardwareEncoderCandidates } from './hw-encoders.js';

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
 * x264's buffering by `streamLatencyMode`. B-frames stay off in every mode: browsers' WebRTC decoders
 * and many NVRs expect none.
 * - low: tune=zerolatency (no lookahead, no MB-tree, sliced threads): a frame leaves the encoder as
 *   soon as it is coded.
 * - normal/high: rate control with lookahead and MB-tree (bits go to what later frames reference: a
 *   camera's static background), over half the budget, at most 30 frames and 64 MiB of raw frames.
 *   Measured at equal bitrate (x264enc superfast, 640x360@30 at 500 kbit/s, a still photograph with
 *   a moving inset and sensor noise, 300 frames): zerolatency 31.3 dB PSNR at 517 kbit/s; lookahead
 *   3 frames 32.8 dB, 7 (normal at 30 fps) 33.9 dB, 15 34.4 dB, 30 (high) 34.6 dB, 60 34.6 dB, all at
 *   503-510 kbit/s; +20 % encoder CPU. Without lookahead, leaving zerolatency alone gives 31.4 dB.
 *   A 2 s VBV buffer instead of 1 s overshot the target by 7-10 %, so it stays at 1 s.
 */
export function x264Latency(s: StreamSettings): string {
  const mode = s.latencyMode ?? 'low';
  if (mode === 'low') return 'tune=zerolatency vbv-buf-capacity=1000';
  const byTime = Math.floor((getLatencyMs(mode) / 2 / 1000) * s.fps);
  const byMemory = Math.floor(X264_LOOKAHEAD_MAX_BYTES / (s.width * s.height * 1.5));
  const lookahead = Math.max(1, Math.min(byTime, X264_LOOKAHEAD_MAX_FRAMES, byMemory));
  return `rc-lookahead=${lookahead} mb-tree=true sliced-threads=false vbv-buf-capacity=1000`;
}

/** Past 30 frames the gain is gone (34.62 → 34.64 dB at 60); each frame held is a raw picture. */
const X264_LOOKAHEAD_MAX_FRAMES = 30;
const X264_LOOKAHEAD_MAX_BYTES = 64 * 1024 * 1024;

function x264(s: StreamSettings): EncoderChoice {
  const kbps = Math.max(1, Math.round(s.bitrate / 1000));
  return {
    owner: 'core',
    factory: 'x264enc',
    codec: 'h264',
    hardware: false,
    family: 'software',
    launch:
      `x264enc name=encoder ${x264Latency(s)} speed-preset=${X264_PRESET[s.preset]} bitrate=${kbps} ` +
      `key-int-max=${s.gop} bframes=0 byte-stream=true aud=false option-string=${X264_PROFILE_TOOLS[s.profile]}:${X264_FIXED_GOP} ! video/x-h264,profile=${h264CapsProfile(s.profile)}`,
    elements: ['x264enc'],
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 },
    noBFrames: true,
  };
}

function openh264(s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'openh264enc',
    codec: 'h264',
    hardware: false,
    family: 'software',
    launch: `openh264enc name=encoder bitrate=${s.bitrate} gop-size=${s.gop} complexity=low rate-control=bitrate ! video/x-h264,profile=constrained-baseline`,
    elements: ['openh264enc'],
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1 },
  };
}

/**
 * x265 as x264 above: a fixed GOP (no scene-cut keyframes), and closed GOPs so that every keyframe is
 * an IDR with its parameter sets, a point any reader (RTSP, snapshots) can start from; x265's default
 * open GOP makes CRA pictures instead.
 */
const X265_OPTIONS = 'scenecut=0:open-gop=0';

function x265(s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'x265enc',
    codec: 'h265',
    hardware: false,
    family: 'software',
    launch: `x265enc name=encoder tune=zerolatency speed-preset=${X264_PRESET[s.preset]} bitrate=${Math.max(1, Math.round(s.bitrate / 1000))} key-int-max=${s.gop} option-string=${X265_OPTIONS}`,
    elements: ['x265enc'],
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 },
  };
}

/** JPEG has a quality, not a bitrate: `streamBitrate` changes (ABR's too) leave the pipeline alone. */
function jpeg(_s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'jpegenc',
    codec: 'mjpeg',
    hardware: false,
    family: 'software',
    launch: 'jpegenc name=encoder quality=85',
    elements: ['jpegenc'],
    noBitrate: true,
  };
}

/** Core's encoder candidates: the boards' hardware families (hw-encoders.ts), then software; a plugin registers more through `ctx.registry.registerEncoder`. */
export function defaultEncoderCandidates(): EncoderCandidate[] {
  return [
    ...hardwareEncoderCandidates(),
    candidate('x264enc', 'h264', 'software', 100, x264),
    // A lighter H.264 fallback where x264 is missing (OpenH264's level table ends at 5.2).
    candidate('openh264enc', 'h264', 'software', 50, openh264, levelLimits('h264', '5.2')),
    candidate('x265enc', 'h265', 'software', 100, x265),
    candidate('jpegenc', 'mjpeg', 'software', 100, jpeg),
  ];
}
