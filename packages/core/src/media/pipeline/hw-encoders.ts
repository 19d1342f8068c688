import { levelLimits } from '../encoder-limits.js';
import type { EncoderCandidate } from '../registry.js';
import type { EncoderChoice, EncoderPreset, StreamSettings, VideoCodec } from '../types.js';
import { candidate, h264CapsProfile } from './encoder-candidate.js';

/**
 * The hardware encoder families of the boards camd is meant for. Each maps the stream's bitrate, GOP
 * and profile onto the element's own properties and units, and says how a bitrate change reaches the
 * running element (a property changeable while playing, or V4L2 `extra-controls`, which v4l2object
 * applies at once while the device is open). B-frames stay off everywhere (browsers' WebRTC decoders
 * and many NVRs expect none); parameter sets come with every keyframe from `h264parse
 * config-interval=-1` after the encoder, whatever the element does itself.
 *
 * Levels (`limits`) are what the family's hardware signals at most, from the vendors' datasheets:
 * settings beyond them are refused before a pipeline runs (bounds.ts). A SoC of a family may do less
 * (an RK3566 encodes 1080p60, an RK3588 4K60): the trial encode at start catches a missing or dead
 * encoder, not a lower limit.
 */

const kbps = (s: StreamSettings) => Math.max(1, Math.round(s.bitrate / 1000));

/** V4L2 controls as `extra-controls` text (`controls,video_bitrate=4000000,h264_i_frame_period=30`). */
export const v4l2Controls = (c: Record<string, number>) =>
  `controls,${Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;

/**
 * V4L2 M2M (Raspberry Pi 4/CM4's bcm2835-codec, i.MX8M, Amlogic, Allwinner): every setting through
 * `extra-controls` (bit/s, GOP in frames); profile and level from the caps after the encoder. A new
 * `extra-controls` value while playing changes the bitrate in place, so the live applier sends the
 * whole set again with the new bitrate.
 */
function v4l2(codec: 'h264' | 'h265') {
  return (s: StreamSettings): EncoderChoice => {
    const factory = codec === 'h264' ? 'v4l2h264enc' : 'v4l2h265enc';
    // H.264 drivers name the GOP h264_i_frame_period (the seed's control); HEVC ones the generic video_gop_size.
    const gop = codec === 'h264' ? 'h264_i_frame_period' : 'video_gop_size';
    const controls = (bitrate: number) => v4l2Controls({ video_bitrate: bitrate, [gop]: s.gop });
    // The Pi's encoder signals level 4.2 at most (1080p60); HEVC M2M encoders (i.MX8MP) 5.1.
    const caps = codec === 'h264' ? `video/x-h264,profile=${h264CapsProfile(s.profile)},level=(string)4.2` : 'video/x-h265,profile=main';
    return {
      owner: 'core',
      factory,
      codec,
      hardware: true,
      family: 'v4l2',
      launch: `${factory} name=encoder extra-controls="${controls(s.bitrate)}" ! ${caps}`,
      elements: [factory],
      liveBitrate: (bitrate) => ({ element: 'encoder', property: 'extra-controls', value: controls(bitrate) }),
    };
  };
}

/** JPEG has a quality, not a bitrate (as jpegenc): bitrate changes leave it alone. */
function v4l2Jpeg(_s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'v4l2jpegenc',
    codec: 'mjpeg',
    hardware: true,
    family: 'v4l2',
    launch: `v4l2jpegenc name=encoder extra-controls="${v4l2Controls({ compression_quality: 85 })}"`,
    elements: ['v4l2jpegenc'],
    noBitrate: true,
  };
}

/** VA's target-usage: 1 is best quality, 7 fastest; camd's presets are quality tiers (encoders.ts). */
const VA_TARGET_USAGE: Record<EncoderPreset, number> = { ultrafast: 7, fast: 6, medium: 4, slow: 2 };

/**
 * VA (GStreamer's `va` plugin: Intel from Broadwell to the N100, AMD): constant bitrate in kbit/s,
 * changeable while playing (the encoder reconfigures before the next frame); NV12 in, its native
 * layout; profile from the caps after it.
 */
function va(codec: 'h264' | 'h265') {
  return (s: StreamSettings): EncoderChoice => {
    const factory = codec === 'h264' ? 'vah264enc' : 'vah265enc';
    const caps = codec === 'h264' ? `video/x-h264,profile=${h264CapsProfile(s.profile)}` : 'video/x-h265,profile=main';
    return {
      owner: 'core',
      factory,
      codec,
      hardware: true,
      family: 'va',
      launch: `${factory} name=encoder rate-control=cbr bitrate=${kbps(s)} key-int-max=${s.gop} b-frames=0 target-usage=${VA_TARGET_USAGE[s.preset]} ! ${caps}`,
      elements: [factory],
      inputFormat: 'NV12',
      bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 },
    };
  };
}

function vaJpeg(_s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'vajpegenc',
    codec: 'mjpeg',
    hardware: true,
    family: 'va',
    launch: 'vajpegenc name=encoder quality=85',
    elements: ['vajpegenc'],
    inputFormat: 'NV12',
    noBitrate: true,
  };
}

/** VA-API (gstreamer1.0-vaapi, older Intel stacks): as VA, the GOP is `keyframe-period`. */
function vaapi(s: StreamSettings): EncoderChoice {
  return {
    owner: 'core',
    factory: 'vaapih264enc',
    codec: 'h264',
    hardware: true,
    family: 'vaapi',
    launch: `vaapih264enc name=encoder rate-control=cbr bitrate=${kbps(s)} keyframe-period=${s.gop} max-bframes=0 ! video/x-h264,profile=${h264CapsProfile(s.profile)}`,
    elements: ['vaapih264enc'],
    inputFormat: 'NV12',
    bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1000 },
  };
}

/** nvv4l2h264enc's `profile` enum: 0 Baseline, 2 Main, 4 High. */
const JETSON_PROFILE: Record<StreamSettings['profile'], number> = { baseline: 0, main: 2, high: 4 };
/** nvv4l2's `preset-level`: 1 UltraFast … 4 Slow. */
const JETSON_PRESET: Record<EncoderPreset, number> = { ultrafast: 1, fast: 2, medium: 3, slow: 4 };

/**
 * Jetson (L4T's gst-v4l2 on Nano/TX2/Xavier/Orin NX-with-NVENC): it encodes from NVMM buffers only,
 * so `nvvidconv` moves the frames there first. Bitrate in bit/s, changeable while playing; every I
 * frame an IDR with SPS/PPS (idrinterval = iframeinterval, insert-sps-pps); constant bitrate; maxperf
 * keeps the clocks up for low latency.
 */
function jetson(codec: 'h264' | 'h265') {
  return (s: StreamSettings): EncoderChoice => {
    const factory = codec === 'h264' ? 'nvv4l2h264enc' : 'nvv4l2h265enc';
    const profile = codec === 'h264' ? ` profile=${JETSON_PROFILE[s.profile]}` : '';
    return {
      owner: 'core',
      factory,
      codec,
      hardware: true,
      family: 'jetson',
      launch:
        `nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! ${factory} name=encoder bitrate=${s.bitrate} iframeinterval=${s.gop} idrinterval=${s.gop}` +
        `${profile} control-rate=1 insert-sps-pps=true maxperf-enable=true preset-level=${JETSON_PRESET[s.preset]}`,
      elements: ['nvvidconv', factory],
      bitrateProperty: { name: 'bitrate', unitBitsPerSecond: 1 },
    };
  };
}

/**
 * Rockchip MPP (gstreamer-rockchip on RK3566/RK3568/RK3588): bit/s as `bps` (its minimum and maximum
 * follow it), GOP as `gop`; a property change is applied before the next frame. Headers with every
 * IDR.
 */
function rockchip(codec: 'h264' | 'h265') {
  return (s: StreamSettings): EncoderChoice => {
    const factory = codec === 'h264' ? 'mpph264enc' : 'mpph265enc';
    const profile = codec === 'h264' ? ` profile=${s.profile}` : '';
    const caps = codec === 'h264' ? ` ! video/x-h264,profile=${h264CapsProfile(s.profile)}` : '';
    return {
      owner: 'core',
      factory,
      codec,
      hardware: true,
      family: 'rockchip',
      launch: `${factory} name=encoder rc-mode=cbr bps=${s.bitrate} gop=${s.gop}${profile} header-mode=each-idr${caps}`,
      elements: [factory],
      bitrateProperty: { name: 'bps', unitBitsPerSecond: 1 },
    };
  };
}

const level = (codec: VideoCodec, l: string) => levelLimits(codec, l);

/** The hardware families, each family's elements in the order it is preferred (VA before the older VA-API). */
export function hardwareEncoderCandidates(): EncoderCandidate[] {
  return [
    // Raspberry Pi 4/CM4: level 4.2 (1080p60) in the caps above.
    candidate('v4l2h264enc', 'h264', 'v4l2', 100, v4l2('h264'), level('h264', '4.2')),
    candidate('v4l2h265enc', 'h265', 'v4l2', 100, v4l2('h265'), level('h265', '5.1')),
    candidate('v4l2jpegenc', 'mjpeg', 'v4l2', 100, v4l2Jpeg),
    // Intel/AMD: H.264 up to 4096x2304 (5.2), HEVC 5.1 (4K60).
    candidate('vah264enc', 'h264', 'va', 100, va('h264'), level('h264', '5.2')),
    candidate('vah265enc', 'h265', 'va', 100, va('h265'), level('h265', '5.1')),
    candidate('vajpegenc', 'mjpeg', 'va', 100, vaJpeg),
    candidate('vaapih264enc', 'h264', 'vaapi', 90, vaapi, level('h264', '5.1')),
    // Jetson: 4K30 (Nano) and up, 5.1.
    candidate('nvv4l2h264enc', 'h264', 'jetson', 100, jetson('h264'), level('h264', '5.1')),
    candidate('nvv4l2h265enc', 'h265', 'jetson', 100, jetson('h265'), level('h265', '5.1')),
    // RK3588: 4K (5.1); the RK3566's 1080p60 is less.
    candidate('mpph264enc', 'h264', 'rockchip', 100, rockchip('h264'), level('h264', '5.1')),
    candidate('mpph265enc', 'h265', 'rockchip', 100, rockchip('h265'), level('h265', '5.1')),
  ];
}
