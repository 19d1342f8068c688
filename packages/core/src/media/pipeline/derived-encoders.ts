import type { EncoderCandidate } from '../registry.js';
import type { DerivedCodec, EncoderChoice, StreamSettings } from '../types.js';

/**
 * Encoders of the derived codecs (WebRTC clients without the stream's codec), registered with the
 * element registry like a stream's, so that a board plugin can add a hardware VP8 or VP9 encoder
 * (`registerEncoder({ codec: 'vp9', hardware: true, … })`) and the registry prefers it.
 *
 * All of them for live pictures, measured on this machine (README, WebRTC: `pnpm bench webrtc-derived`):
 * realtime speed settings, constant bitrate at the stream's (`target-bitrate` is taken in PLAYING by
 * vp8enc, vp9enc and av1enc alike: libvpx and libaom reconfigure at the next frame), no lag (a frame
 * leaves as soon as it is coded), keyframes at the stream's GOP and on request, a one-second rate
 * buffer as x264's, two threads on two cores.
 */

const VPX_RATE = (s: StreamSettings) =>
  `end-usage=cbr target-bitrate=${s.bitrate} keyframe-max-dist=${s.gop} lag-in-frames=0 buffer-size=1000 buffer-initial-size=500 buffer-optimal-size=600`;

function choice(codec: DerivedCodec, factory: string, launch: string, unitBitsPerSecond: number): EncoderChoice<DerivedCodec> {
  return { owner: 'core', factory, codec, hardware: false, launch, elements: [factory], bitrateProperty: { name: 'target-bitrate', unitBitsPerSecond } };
}

/**
 * libvpx VP8: realtime deadline at the fastest speed (cpu-used 16), error resilience (a receiver that
 * lost a packet recovers at the next frame).
 */
function vp8(s: StreamSettings): EncoderChoice<DerivedCodec> {
  return choice('vp8', 'vp8enc', `vp8enc name=encoder deadline=1 cpu-used=16 threads=2 error-resilient=default ${VPX_RATE(s)}`, 1);
}

/**
 * libvpx VP9: realtime deadline at speed 8 (speed 9 measured no cheaper at 720p30), row multithreading
 * over two tile columns (what lets its two threads work on one frame), error resilience.
 */
function vp9(s: StreamSettings): EncoderChoice<DerivedCodec> {
  return choice('vp9', 'vp9enc', `vp9enc name=encoder deadline=1 cpu-used=8 threads=2 row-mt=true tile-columns=1 error-resilient=default ${VPX_RATE(s)}`, 1);
}

/**
 * libaom AV1 (Debian 12's only AV1 encoder in GStreamer: no svtav1enc or rav1enc): the realtime usage
 * profile at its fastest speed (cpu-used 10), row multithreading over two tile columns. The quantizer
 * range must be given: av1enc's defaults (0-0) make libaom 3.6's CBR rate control fail an assertion
 * and abort the whole media process at the first frame. `target-bitrate` is in kbit/s.
 */
function av1(s: StreamSettings): EncoderChoice<DerivedCodec> {
  return choice(
    'av1',
    'av1enc',
    `av1enc name=encoder usage-profile=realtime cpu-used=10 threads=2 row-mt=true tile-columns=1 min-quantizer=10 max-quantizer=56 ` +
      `end-usage=cbr target-bitrate=${Math.max(1, Math.round(s.bitrate / 1000))} keyframe-max-dist=${s.gop} lag-in-frames=0 buf-sz=1000 buf-initial-sz=500 buf-optimal-sz=600`,
    1000,
  );
}

const candidate = (codec: DerivedCodec, factory: string, build: (s: StreamSettings) => EncoderChoice<DerivedCodec>): EncoderCandidate => ({
  owner: 'core',
  factory,
  codec,
  hardware: false,
  family: 'software',
  priority: 100,
  build,
});

/** Core's derived encoders (one software encoder per codec; plugins register others). */
export function derivedEncoderCandidates(): EncoderCandidate[] {
  return [candidate('vp8', 'vp8enc', vp8), candidate('vp9', 'vp9enc', vp9), candidate('av1', 'av1enc', av1)];
}
