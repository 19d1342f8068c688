export { default, PLUGIN_NAME, publishKeys, type PublishOptions } from './plugin.js';
export { PublishTarget, type TargetState, type TargetStats } from './publisher.js';
export {
  parseTarget,
  redactUrl,
  redactTargets,
  conceal,
  targetLabel,
  targetsValidator,
  MAX_TARGETS,
  type ParsedTarget,
  type PublishTargetConfig,
  type PublishProtocol,
} from './targets.js';
export { RtspRecordSink } from './rtsp-record.js';
export { MuxChildSink, muxArgs } from './mux-child.js';
export { PublishError, type PublishSink, type PublishErrorKind } from './sink.js';
