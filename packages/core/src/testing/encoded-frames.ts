import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { derivedEncoderCandidates } from '../media/pipeline/derived-encoders.js';
import { isJoinPoint } from '../media/codec.js';
import type { DerivedCodec, EncodedFrame, StreamSettings } from '../media/types.js';

/**
 * Frames of camd's own derived encoder of `codec` (the launch text the daemon runs), encoded by
 * GStreamer from a small moving test pattern: what packetiser tests feed to real depacketisers and
 * decoders. Runs gst-launch-1.0 for a fraction of a second (a media test: run it under the slot).
 */
export function encodedTestFrames(codec: DerivedCodec, opts: { width?: number; height?: number; frames?: number; gop?: number } = {}): EncodedFrame[] {
  const { width = 160, height = 120, frames = 20, gop = 10 } = opts;
  const settings = { width, height, fps: 15, bitrate: 300_000, gop } as StreamSettings;
  const encoder = derivedEncoderCandidates()
    .find((c) => c.codec === codec)!
    .build(settings);
  const dir = mkdtempSync(join(tmpdir(), `camd-${codec}-frames-`));
  try {
    const launch =
      `videotestsrc num-buffers=${frames} pattern=ball ! video/x-raw,format=I420,width=${width},height=${height},framerate=15/1 ! ` +
      `${encoder.launch} ! multifilesink location=${join(dir, '%04d')}`;
    execFileSync('gst-launch-1.0', ['-q', ...launch.split(' ')], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readdirSync(dir)
      .sort()
      .map((f, i) => {
        const data = readFileSync(join(dir, f));
        return {
          stream: `test:${codec}`,
          seq: i + 1,
          data,
          keyframe: isJoinPoint(codec, data),
          codec,
          captureTimeMs: (i * 1000) / 15,
          rtpTimestamp: i * 6000,
          receivedAt: 0,
          width,
          height,
        };
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
