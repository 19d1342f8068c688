import { MEDIA_READ, type StreamSettings } from '@camd/core';
import { mediaServiceCapabilities } from './device-ops.js';
import { encoderOptions, resolutionsXml, setVideoSourceConfiguration, stateFault } from './encoder-options.js';
import { fault, profileXml, streamOf, text, videoEncoderConfigurationXml, videoSourceConfigurationXml, type Op, type OpContext } from './operations.js';
import { SoapFault, xmlEscape } from './soap.js';
import { require as requirePermission } from './security.js';

const PROFILE_OF: Record<string, StreamSettings['profile']> = { Baseline: 'baseline', Main: 'main', High: 'high', Extended: 'main' };

const read = (o: OpContext) => requirePermission(o.caller!, MEDIA_READ);
const uri = (tag: string, u: string) =>
  `<${tag}><trt:MediaUri><tt:Uri>${xmlEscape(u)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></${tag}>`;
/** The stream of a request's ConfigurationToken, or of its ProfileToken; every stream when neither is given. */
const selected = (o: OpContext) =>
  o.params.ConfigurationToken !== undefined
    ? [streamOf(o, o.params.ConfigurationToken)]
    : o.params.ProfileToken !== undefined
      ? [streamOf(o, o.params.ProfileToken)]
      : o.ctx.streams.list();

export type EncoderChange = [key: Parameters<OpContext['ctx']['streams']['stateKey']>[1], value: unknown];

/**
 * Applies an encoder configuration (Media and Media2) through the state store as the caller, all at
 * once: each value, and the size × rate × codec together against the stream's bounds (source,
 * encoder level, pixel budget), are checked before anything changes.
 */
export async function applyEncoderChanges(o: OpContext, s: StreamSettings, changes: readonly EncoderChange[]): Promise<void> {
  const keyed = changes.map(([k, value]) => [o.ctx.streams.stateKey(s.name, k), value] as const);
  try {
    await o.ctx.state.setMany(keyed, o.caller!);
  } catch (err) {
    throw stateFault(o, err);
  }
  o.ctx.logger.info({ stream: s.name, by: o.caller!.username, changes: Object.fromEntries(keyed) }, 'onvif: encoder configuration set');
}

export const MEDIA_OPS: Record<string, Op> = {
  GetServiceCapabilities: (o) => `<trt:GetServiceCapabilitiesResponse>${mediaServiceCapabilities(o)}</trt:GetServiceCapabilitiesResponse>`,

  GetProfiles: (o) => {
    read(o);
    return `<trt:GetProfilesResponse>${o.ctx.streams
      .list()
      .map((s) => profileXml(s))
      .join('')}</trt:GetProfilesResponse>`;
  },
  GetProfile: (o) => {
    read(o);
    return `<trt:GetProfileResponse>${profileXml(streamOf(o, o.params.ProfileToken), 'trt:Profile')}</trt:GetProfileResponse>`;
  },

  GetVideoSources: (o) => {
    read(o);
    return `<trt:GetVideoSourcesResponse>${o.ctx.streams
      .list()
      .map(
        (s) =>
          `<trt:VideoSources token="vs_${s.name}"><tt:Framerate>${s.fps}</tt:Framerate><tt:Resolution><tt:Width>${s.width}</tt:Width><tt:Height>${s.height}</tt:Height></tt:Resolution></trt:VideoSources>`,
      )
      .join('')}</trt:GetVideoSourcesResponse>`;
  },
  GetVideoSourceConfigurations: (o) => {
    read(o);
    return `<trt:GetVideoSourceConfigurationsResponse>${o.ctx.streams
      .list()
      .map((s) => videoSourceConfigurationXml(s, 'trt:Configurations'))
      .join('')}</trt:GetVideoSourceConfigurationsResponse>`;
  },
  GetVideoSourceConfiguration: (o) => {
    read(o);
    return `<trt:GetVideoSourceConfigurationResponse>${videoSourceConfigurationXml(streamOf(o, o.params.ConfigurationToken), 'trt:Configuration')}</trt:GetVideoSourceConfigurationResponse>`;
  },
  GetCompatibleVideoSourceConfigurations: (o) => {
    read(o);
    return `<trt:GetCompatibleVideoSourceConfigurationsResponse>${videoSourceConfigurationXml(streamOf(o, o.params.ProfileToken), 'trt:Configurations')}</trt:GetCompatibleVideoSourceConfigurationsResponse>`;
  },

  GetVideoEncoderConfigurations: (o) => {
    read(o);
    return `<trt:GetVideoEncoderConfigurationsResponse>${o.ctx.streams
      .list()
      .map((s) => videoEncoderConfigurationXml(s, 'trt:Configurations'))
      .join('')}</trt:GetVideoEncoderConfigurationsResponse>`;
  },
  GetVideoEncoderConfiguration: (o) => {
    read(o);
    return `<trt:GetVideoEncoderConfigurationResponse>${videoEncoderConfigurationXml(streamOf(o, o.params.ConfigurationToken), 'trt:Configuration')}</trt:GetVideoEncoderConfigurationResponse>`;
  },
  GetCompatibleVideoEncoderConfigurations: (o) => {
    read(o);
    return `<trt:GetCompatibleVideoEncoderConfigurationsResponse>${videoEncoderConfigurationXml(streamOf(o, o.params.ProfileToken), 'trt:Configurations')}</trt:GetCompatibleVideoEncoderConfigurationsResponse>`;
  },
  GetVideoEncoderConfigurationOptions: (o) => {
    read(o);
    // Exactly what SetVideoEncoderConfiguration accepts (core's bounds): sizes at the current rate, rates at the current size.
    const opts = encoderOptions(o, selected(o), 'h264');
    const h264 =
      `${resolutionsXml(opts)}<tt:GovLengthRange><tt:Min>1</tt:Min><tt:Max>600</tt:Max></tt:GovLengthRange><tt:FrameRateRange><tt:Min>1</tt:Min><tt:Max>${opts.maxFps}</tt:Max></tt:FrameRateRange>` +
      `<tt:EncodingIntervalRange><tt:Min>1</tt:Min><tt:Max>1</tt:Max></tt:EncodingIntervalRange><tt:H264ProfilesSupported>Baseline</tt:H264ProfilesSupported><tt:H264ProfilesSupported>Main</tt:H264ProfilesSupported><tt:H264ProfilesSupported>High</tt:H264ProfilesSupported>`;
    return (
      `<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options><tt:QualityRange><tt:Min>0</tt:Min><tt:Max>10</tt:Max></tt:QualityRange><tt:H264>${h264}</tt:H264>` +
      `<tt:Extension><tt:H264>${h264}<tt:BitrateRange><tt:Min>64</tt:Min><tt:Max>50000</tt:Max></tt:BitrateRange></tt:H264></tt:Extension></trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>`
    );
  },

  /**
   * Resolution, frame rate, bitrate and H.264 profile go through the state store as the caller, so the
   * keys' write permission applies (Media_rw or Admin) and the stream changes live like any other settings change.
   */
  SetVideoEncoderConfiguration: async (o) => {
    const c = (o.params.Configuration ?? {}) as Record<string, unknown>;
    const token = (c['@_token'] as string | undefined) ?? '';
    const s = streamOf(o, token);
    const encoding = text(c.Encoding);
    if (encoding !== undefined && encoding !== 'H264')
      throw fault.invalidArg('ter:ConfigModify', `encoding ${encoding} is not available; this device encodes H264`);
    const res = c.Resolution as Record<string, unknown> | undefined;
    const rate = c.RateControl as Record<string, unknown> | undefined;
    const changes: EncoderChange[] = [];
    if (res) changes.push(['streamResolution', `${Number(text(res.Width))}x${Number(text(res.Height))}`]);
    if (rate?.FrameRateLimit !== undefined) changes.push(['streamFramerate', Number(text(rate.FrameRateLimit))]);
    if (rate?.BitrateLimit !== undefined) changes.push(['streamBitrate', Number(text(rate.BitrateLimit)) * 1000]);
    const profile = text((c.H264 as Record<string, unknown> | undefined)?.H264Profile);
    if (profile !== undefined) {
      if (!(profile in PROFILE_OF)) throw fault.invalidArg('ter:ConfigModify', `H264Profile ${profile} is not one of Baseline, Main, High`);
      changes.push(['encoderProfile', PROFILE_OF[profile]]);
    }
    await applyEncoderChanges(o, s, changes);
    return '<trt:SetVideoEncoderConfigurationResponse/>';
  },

  SetVideoSourceConfiguration: (o) => {
    const token = ((o.params.Configuration ?? {}) as Record<string, unknown>)['@_token'];
    setVideoSourceConfiguration(o, streamOf(o, token ?? ''));
    return '<trt:SetVideoSourceConfigurationResponse/>';
  },

  GetVideoSourceConfigurationOptions: (o) => {
    read(o);
    const [s] = selected(o);
    const range = (tag: string, min: number, max: number) => `<tt:${tag}><tt:Min>${min}</tt:Min><tt:Max>${max}</tt:Max></tt:${tag}>`;
    // The source is used whole (no cropping): the bounds are the stream's picture.
    return (
      `<trt:GetVideoSourceConfigurationOptionsResponse><trt:Options><tt:BoundsRange>${range('XRange', 0, 0)}${range('YRange', 0, 0)}${range('WidthRange', s!.width, s!.width)}${range('HeightRange', s!.height, s!.height)}</tt:BoundsRange>` +
      `${selected(o)
        .map((x) => `<tt:VideoSourceTokensAvailable>vs_${x.name}</tt:VideoSourceTokensAvailable>`)
        .join('')}</trt:Options></trt:GetVideoSourceConfigurationOptionsResponse>`
    );
  },
  /** One encoder per stream (shared by every reader): one H.264 instance per video source configuration. */
  GetGuaranteedNumberOfVideoEncoderInstances: (o) => {
    read(o);
    streamOf(o, o.params.ConfigurationToken);
    return '<trt:GetGuaranteedNumberOfVideoEncoderInstancesResponse><trt:TotalNumber>1</trt:TotalNumber><trt:H264>1</trt:H264></trt:GetGuaranteedNumberOfVideoEncoderInstancesResponse>';
  },
  /** An IDR frame from the encoder now (NVRs ask when they start recording or a reader joins). */
  SetSynchronizationPoint: (o) => {
    read(o);
    const s = streamOf(o, o.params.ProfileToken);
    o.ctx.hub.requestKeyframe(s.name);
    return '<trt:SetSynchronizationPointResponse/>';
  },

  // This device has no audio, metadata or analytics: their lists are empty (NVRs list them while adding a camera).
  ...emptyLists({
    GetAudioSources: 'trt:GetAudioSourcesResponse',
    GetAudioSourceConfigurations: 'trt:GetAudioSourceConfigurationsResponse',
    GetAudioEncoderConfigurations: 'trt:GetAudioEncoderConfigurationsResponse',
    GetAudioOutputs: 'trt:GetAudioOutputsResponse',
    GetAudioOutputConfigurations: 'trt:GetAudioOutputConfigurationsResponse',
    GetAudioDecoderConfigurations: 'trt:GetAudioDecoderConfigurationsResponse',
    GetMetadataConfigurations: 'trt:GetMetadataConfigurationsResponse',
    GetVideoAnalyticsConfigurations: 'trt:GetVideoAnalyticsConfigurationsResponse',
  }),

  GetStreamUri: (o) => {
    read(o);
    const s = streamOf(o, o.params.ProfileToken);
    const protocol = text(((o.params.StreamSetup as Record<string, unknown> | undefined)?.Transport as Record<string, unknown> | undefined)?.Protocol);
    // UDP, TCP, RTSP and HTTP (RTSP tunnelled over HTTP) are all served on the RTSP port: one URI.
    if (protocol !== undefined && !['UDP', 'TCP', 'RTSP', 'HTTP'].includes(protocol))
      throw fault.invalidArg('ter:InvalidStreamSetup', `transport protocol ${protocol} is not one of UDP, TCP, RTSP, HTTP`);
    if (!o.ctx.state.has('rtspPort'))
      throw new SoapFault(400, 'env:Receiver', 'ter:ActionNotSupported/ter:NoRTSPStreaming', 'RTSP streaming is not installed on this device');
    return uri('trt:GetStreamUriResponse', `rtsp://${o.host}:${o.ctx.state.get<number>('rtspPort')}${s.path}`);
  },
  GetSnapshotUri: (o) => {
    read(o);
    const s = streamOf(o, o.params.ProfileToken);
    return uri('trt:GetSnapshotUriResponse', `${o.origin}/api/streams/${s.name}/snapshot.jpg`);
  },
};

function emptyLists(ops: Record<string, string>): Record<string, Op> {
  return Object.fromEntries(
    Object.entries(ops).map(([op, tag]) => [
      op,
      (o: OpContext) => {
        read(o);
        return `<${tag}/>`;
      },
    ]),
  );
}
