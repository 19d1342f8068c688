import { MEDIA_READ, type StreamSettings, type VideoCodec } from '@camd/core';
import { applyEncoderChanges, type EncoderChange } from './media-ops.js';
import { encoderOptions, resolutionsXml, setVideoSourceConfiguration } from './encoder-options.js';
import { fault, list, profileToken, streamOf, text, videoSourceConfigurationXml, type Op, type OpContext } from './operations.js';
import { rtspsPort } from './protocol-ops.js';
import { SoapFault, xmlEscape } from './soap.js';
import { require as requirePermission } from './security.js';

/**
 * ONVIF Media2 (ver20/media/wsdl, Profile T's media service), what NVRs use for H.265 cameras. The
 * same streams as the Media service (one fixed profile per stream, `profile_<stream>`, the same
 * configuration tokens), described with Media2's types: the encoder configuration names its codec
 * (H264, H265, JPEG) and carries GovLength and Profile as attributes.
 */
export const MEDIA2_SERVICE_PATH = '/onvif/media2_service';

/** Media2's encoding names (IANA media subtypes) for the `videoEncoder` values. */
const ENCODING: Record<VideoCodec, string> = { h264: 'H264', h265: 'H265', mjpeg: 'JPEG' };
const CODEC_OF: Record<string, VideoCodec> = { H264: 'h264', H265: 'h265', JPEG: 'mjpeg' };
const H264_PROFILE = { baseline: 'Baseline', main: 'Main', high: 'High' } as const;
const H264_PROFILE_OF: Record<string, StreamSettings['profile']> = { Baseline: 'baseline', Main: 'main', High: 'high' };
/** x265 here encodes 8-bit 4:2:0: H.265 Main. */
const H265_PROFILES = ['Main'];
/** Common camera rates (whole: streamFramerate takes integers), offered up to the highest the streams accept, plus that rate and each stream's own. */
const FRAME_RATES = [1, 5, 10, 15, 20, 25, 30, 50, 60, 120];
/**
 * Protocols of GetStreamUri: RTP over UDP, over the RTSP connection, and tunnelled in HTTP, all on the
 * RTSP port; and RTSPS (`RtspsUnicast`: the rtsps:// URI on the RTSPS port, RTP interleaved in TLS;
 * camd has no SRTP, so UDP stays refused there).
 */
const PROTOCOLS = ['RtspUnicast', 'RTSP', 'RtspOverHttp', 'RtspsUnicast'];

const read = (o: OpContext) => requirePermission(o.caller!, MEDIA_READ);

/**
 * A stream's settings as the state store holds them: a client reading back what it just set gets it
 * at once, while the pipeline applies it (live or by a rebuild, a moment later).
 */
function current(o: OpContext, s: StreamSettings): StreamSettings {
  const get = <T>(key: Parameters<OpContext['ctx']['streams']['stateKey']>[1]) => o.ctx.state.get<T>(o.ctx.streams.stateKey(s.name, key));
  const [width, height] = get<string>('streamResolution').split('x').map(Number) as [number, number];
  return {
    ...s,
    width,
    height,
    fps: get<number>('streamFramerate'),
    bitrate: get<number>('streamBitrate'),
    codec: get<VideoCodec>('videoEncoder'),
    profile: get<StreamSettings['profile']>('encoderProfile'),
  };
}

/** The streams a request names by ConfigurationToken or ProfileToken; every stream when it names none. */
function selected(o: OpContext): StreamSettings[] {
  if (o.params.ConfigurationToken !== undefined) return [current(o, streamOf(o, o.params.ConfigurationToken))];
  if (o.params.ProfileToken !== undefined) return [current(o, streamOf(o, o.params.ProfileToken))];
  return o.ctx.streams.list().map((s) => current(o, s));
}

/** tt:VideoEncoder2Configuration of a stream as it encodes now. */
export function videoEncoder2Xml(s: StreamSettings, tag: string): string {
  const attrs =
    s.codec === 'h264' ? ` GovLength="${s.gop}" Profile="${H264_PROFILE[s.profile]}"` : s.codec === 'h265' ? ` GovLength="${s.gop}" Profile="Main"` : '';
  return (
    `<${tag} token="vec_${s.name}"${attrs}><tt:Name>${xmlEscape(s.name)}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>${ENCODING[s.codec]}</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${s.width}</tt:Width><tt:Height>${s.height}</tt:Height></tt:Resolution>` +
    `<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>${s.fps}</tt:FrameRateLimit><tt:BitrateLimit>${Math.round(s.bitrate / 1000)}</tt:BitrateLimit></tt:RateControl>` +
    `<tt:Quality>5</tt:Quality></${tag}>`
  );
}

/** GetProfiles' Type: which configurations to include (none when no Type is given, ONVIF Media2 5.2.1). */
function profile2Xml(s: StreamSettings, types: string[]): string {
  const want = (t: string) => types.includes('All') || types.includes(t);
  const configs =
    (want('VideoSource') ? videoSourceConfigurationXml(s, 'tr2:VideoSource') : '') + (want('VideoEncoder') ? videoEncoder2Xml(s, 'tr2:VideoEncoder') : '');
  return `<tr2:Profiles token="${profileToken(s)}" fixed="true"><tr2:Name>${xmlEscape(s.name)}</tr2:Name>${configs ? `<tr2:Configurations>${configs}</tr2:Configurations>` : ''}</tr2:Profiles>`;
}

export function media2ServiceCapabilities(o: OpContext): string {
  return (
    `<tr2:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" OSD="false" TemporaryOSDText="false" Mask="false" SourceMask="false">` +
    `<tr2:ProfileCapabilities MaximumNumberOfProfiles="${o.ctx.streams.list().length}" ConfigurationsSupported="VideoSource VideoEncoder"/>` +
    '<tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="false" RTP_RTSP_TCP="true" NonAggregateControl="false" AutoStartMulticast="false"/></tr2:Capabilities>'
  );
}

/**
 * One Options per codec, each exactly what SetVideoEncoderConfiguration accepts for it (core's bounds:
 * the encoder's level differs by codec): sizes at the stream's rate, rates at its size.
 */
function options2Xml(o: OpContext, streams: StreamSettings[]): string {
  const body = (codec: VideoCodec) => {
    const opts = encoderOptions(o, streams, codec);
    const rates = new Set([...FRAME_RATES, ...streams.map((s) => s.fps), opts.maxFps].filter((r) => r <= opts.maxFps));
    const frameRates = [...rates].sort((a, b) => a - b).join(' ');
    // streamBitrate takes 64 kbit/s to 50 Mbit/s; GovLength is the config's `gop` (1..600 frames).
    return {
      common: `FrameRatesSupported="${frameRates}" ConstantBitRateSupported="false" GuaranteedFrameRateSupported="false"`,
      inner: `<tt:Encoding>${ENCODING[codec]}</tt:Encoding><tt:QualityRange><tt:Min>0</tt:Min><tt:Max>10</tt:Max></tt:QualityRange>${resolutionsXml(opts)}<tt:BitrateRange><tt:Min>64</tt:Min><tt:Max>50000</tt:Max></tt:BitrateRange>`,
    };
  };
  const [h264, h265, jpeg] = (['h264', 'h265', 'mjpeg'] as const).map(body) as [ReturnType<typeof body>, ReturnType<typeof body>, ReturnType<typeof body>];
  return (
    `<tr2:Options GovLengthRange="1 600" ${h264.common} ProfilesSupported="Baseline Main High">${h264.inner}</tr2:Options>` +
    `<tr2:Options GovLengthRange="1 600" ${h265.common} ProfilesSupported="${H265_PROFILES.join(' ')}">${h265.inner}</tr2:Options>` +
    `<tr2:Options ${jpeg.common}>${jpeg.inner}</tr2:Options>`
  );
}

export const MEDIA2_OPS: Record<string, Op> = {
  GetServiceCapabilities: (o) => `<tr2:GetServiceCapabilitiesResponse>${media2ServiceCapabilities(o)}</tr2:GetServiceCapabilitiesResponse>`,

  GetProfiles: (o) => {
    read(o);
    const token = text(o.params.Token);
    const streams = (token === undefined ? o.ctx.streams.list() : [streamOf(o, token)]).map((s) => current(o, s));
    const types = list(o.params.Type).map((t) => text(t) ?? '');
    return `<tr2:GetProfilesResponse>${streams.map((s) => profile2Xml(s, types)).join('')}</tr2:GetProfilesResponse>`;
  },

  GetVideoSourceConfigurations: (o) => {
    read(o);
    return `<tr2:GetVideoSourceConfigurationsResponse>${selected(o)
      .map((s) => videoSourceConfigurationXml(s, 'tr2:Configurations'))
      .join('')}</tr2:GetVideoSourceConfigurationsResponse>`;
  },

  GetVideoEncoderConfigurations: (o) => {
    read(o);
    return `<tr2:GetVideoEncoderConfigurationsResponse>${selected(o)
      .map((s) => videoEncoder2Xml(s, 'tr2:Configurations'))
      .join('')}</tr2:GetVideoEncoderConfigurationsResponse>`;
  },

  GetVideoEncoderConfigurationOptions: (o) => {
    read(o);
    return `<tr2:GetVideoEncoderConfigurationOptionsResponse>${options2Xml(o, selected(o))}</tr2:GetVideoEncoderConfigurationOptionsResponse>`;
  },

  SetVideoSourceConfiguration: (o) => {
    const token = ((o.params.Configuration ?? {}) as Record<string, unknown>)['@_token'];
    setVideoSourceConfiguration(o, streamOf(o, token ?? ''));
    return '<tr2:SetVideoSourceConfigurationResponse/>';
  },

  /**
   * Codec, resolution, frame rate, bitrate and H.264 profile through the state store as the caller
   * (Media_rw), checked in full before anything changes. GovLength is the config's `gop`: a request
   * for another one is refused rather than silently ignored.
   */
  SetVideoEncoderConfiguration: async (o) => {
    const c = (o.params.Configuration ?? {}) as Record<string, unknown>;
    const s = current(o, streamOf(o, (c['@_token'] as string | undefined) ?? ''));
    const changes: EncoderChange[] = [];
    const encoding = text(c.Encoding);
    const codec = encoding === undefined ? s.codec : CODEC_OF[encoding];
    if (!codec) throw fault.invalidArg('ter:ConfigModify', `Encoding ${encoding} is not one of H264, H265, JPEG`);
    if (codec !== s.codec) changes.push(['videoEncoder', codec]);
    const profile = c['@_Profile'] as string | undefined;
    if (profile !== undefined) {
      if (codec === 'h264') {
        if (!(profile in H264_PROFILE_OF)) throw fault.invalidArg('ter:ConfigModify', `H.264 Profile ${profile} is not one of Baseline, Main, High`);
        changes.push(['encoderProfile', H264_PROFILE_OF[profile]]);
      } else if (codec === 'h265' && !H265_PROFILES.includes(profile)) {
        throw fault.invalidArg('ter:ConfigModify', `H.265 Profile ${profile} is not supported (Main)`);
      } else if (codec === 'mjpeg') {
        throw fault.invalidArg('ter:ConfigModify', 'JPEG has no Profile');
      }
    }
    const gov = c['@_GovLength'] as string | undefined;
    if (gov !== undefined && Number(gov) !== s.gop)
      throw fault.invalidArg('ter:ConfigModify', `GovLength ${gov} cannot be changed: the stream's GOP is ${s.gop} frames (the config's gop)`);
    const res = c.Resolution as Record<string, unknown> | undefined;
    const rate = c.RateControl as Record<string, unknown> | undefined;
    const num = (v: unknown, what: string) => {
      const n = Number(text(v));
      if (!Number.isFinite(n)) throw fault.invalidArg('ter:ConfigModify', `${what} "${text(v)}" is not a number`);
      return n;
    };
    if (res) changes.push(['streamResolution', `${num(res.Width, 'Width')}x${num(res.Height, 'Height')}`]);
    if (rate?.FrameRateLimit !== undefined) changes.push(['streamFramerate', num(rate.FrameRateLimit, 'FrameRateLimit')]);
    if (rate?.BitrateLimit !== undefined) changes.push(['streamBitrate', num(rate.BitrateLimit, 'BitrateLimit') * 1000]);
    await applyEncoderChanges(o, s, changes);
    return '<tr2:SetVideoEncoderConfigurationResponse/>';
  },

  GetStreamUri: (o) => {
    read(o);
    const s = streamOf(o, o.params.ProfileToken);
    const protocol = text(o.params.Protocol) ?? 'RTSP';
    if (!PROTOCOLS.includes(protocol))
      throw fault.invalidArg('ter:InvalidStreamSetup', `protocol ${protocol} is not one of ${PROTOCOLS.join(', ')} (no multicast)`);
    if (!o.ctx.state.has('rtspPort'))
      throw new SoapFault(400, 'env:Receiver', 'ter:ActionNotSupported/ter:NoRTSPStreaming', 'RTSP streaming is not installed on this device');
    if (protocol === 'RtspsUnicast') {
      const port = rtspsPort(o.ctx);
      if (port === undefined) throw fault.invalidArg('ter:InvalidStreamSetup', 'RTSPS is off on this device (rtspsEnabled, rtsp.tls, http.tls)');
      return `<tr2:GetStreamUriResponse><tr2:Uri>${xmlEscape(`rtsps://${o.host}:${port}${s.path}`)}</tr2:Uri></tr2:GetStreamUriResponse>`;
    }
    return `<tr2:GetStreamUriResponse><tr2:Uri>${xmlEscape(`rtsp://${o.host}:${o.ctx.state.get<number>('rtspPort')}${s.path}`)}</tr2:Uri></tr2:GetStreamUriResponse>`;
  },

  GetSnapshotUri: (o) => {
    read(o);
    const s = streamOf(o, o.params.ProfileToken);
    return `<tr2:GetSnapshotUriResponse><tr2:Uri>${xmlEscape(o.origin)}/api/streams/${s.name}/snapshot.jpg</tr2:Uri></tr2:GetSnapshotUriResponse>`;
  },

  /** An IDR frame from the encoder now. */
  SetSynchronizationPoint: (o) => {
    read(o);
    o.ctx.hub.requestKeyframe(streamOf(o, o.params.ProfileToken).name);
    return '<tr2:SetSynchronizationPointResponse/>';
  },

  // No audio, metadata or analytics on this device: empty lists.
  ...Object.fromEntries(
    [
      'GetAudioSourceConfigurations',
      'GetAudioEncoderConfigurations',
      'GetAudioOutputConfigurations',
      'GetAudioDecoderConfigurations',
      'GetMetadataConfigurations',
    ].map((op) => [
      op,
      (o: OpContext) => {
        read(o);
        return `<tr2:${op}Response/>`;
      },
    ]),
  ),
};
