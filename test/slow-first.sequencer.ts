import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take 15 s or more of a worker (real encoders, browsers, servers, windows of frames to
 * count, with their beforeAll), slowest first, as measured on the 2-core machine. They start first,
 * so the run does not end with one worker on a long file while the others are idle. Vitest orders
 * by its cached durations once a run has been cached; a fresh clone (CI) has no cache and orders by
 * file size, which put tarball-install.test.ts (about 20 s of npm install in its beforeAll) among the last.
 */
const SLOW_FIRST = [
  'packages/core/src/media/pipeline/media.test.ts',
  'packages/plugin-webrtc/src/webrtc.test.ts',
  'packages/plugin-rtsp/src/rtsp-codecs.test.ts',
  'test/tarball-install.test.ts',
  'packages/plugin-rtsp/src/rtsp-limits.test.ts',
  'packages/plugin-rtsp/src/rtsp.test.ts',
  'packages/plugin-publish/src/rtsp-record.e2e.test.ts',
  'packages/plugin-publish/src/codecs.e2e.test.ts',
  'packages/plugin-publish/src/rtmp-srt.e2e.test.ts',
  'packages/plugin-timestamp/src/overlay.test.ts',
  'packages/plugin-timestamp/src/latency-mode.test.ts',
  'packages/plugin-abr/src/abr.e2e.test.ts',
  'packages/plugin-publish/src/tls.e2e.test.ts',
  'packages/plugin-abr/src/forged-feedback.e2e.test.ts',
  'packages/plugin-webrtc/src/latency-mode.test.ts',
  'packages/core/src/media/alignment.test.ts',
  'packages/plugin-rtsp/src/rtsp-load.test.ts',
  'packages/plugin-webrtc/src/webrtc-codecs.test.ts',
  'packages/core/src/http/limits.test.ts',
  'packages/plugin-onvif/src/discovery.test.ts',
  'packages/plugin-rtsp/src/rtsp-live.test.ts',
  'packages/plugin-publish/src/failures.e2e.test.ts',
  'packages/core/src/http/mjpeg.test.ts',
];

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep vitest's own order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
