/**
 * Which Debian package ships a GStreamer element, for errors about elements this machine lacks (an
 * absent element cannot tell us its plugin, so this is a table). Checked with `dpkg -S` on Debian 12.
 */
const BY_PACKAGE: Record<string, readonly string[]> = {
  'libgstreamer1.0-0': [
    'fakesink',
    'fdsink',
    'fdsrc',
    'filesink',
    'filesrc',
    'identity',
    'queue',
    'queue2',
    'tee',
    'capsfilter',
    'valve',
    'input-selector',
    'output-selector',
  ],
  'gstreamer1.0-plugins-base': [
    'videotestsrc',
    'videoconvert',
    'videoscale',
    'videorate',
    'compositor',
    'appsrc',
    'appsink',
    'audiotestsrc',
    'videoconvertscale',
  ],
  'gstreamer1.0-plugins-good': [
    'v4l2src',
    'vp8enc',
    'vp9enc',
    'v4l2h264enc',
    'v4l2h265enc',
    'v4l2jpegenc',
    'jpegenc',
    'jpegdec',
    'cairooverlay',
    'videobox',
    'videoflip',
    'rtph264pay',
    'rtph264depay',
    'rtpjpegpay',
    'rtspsrc',
    'udpsink',
    'udpsrc',
    'matroskamux',
    'qtmux',
    'mp4mux',
  ],
  'gstreamer1.0-plugins-ugly': ['x264enc'],
  'gstreamer1.0-plugins-bad': [
    'x265enc',
    'av1enc',
    'openh264enc',
    'h264parse',
    'h265parse',
    'jpegparse',
    'gdppay',
    'gdpdepay',
    'nvh264enc',
    'nvh265enc',
    'qsvh264enc',
    'qsvh265enc',
    'webrtcbin',
    'shmsink',
    'shmsrc',
  ],
  'gstreamer1.0-x': ['textoverlay', 'timeoverlay', 'clockoverlay', 'ximagesink'],
  'gstreamer1.0-libav': ['avdec_h264', 'avdec_h265', 'avenc_mjpeg'],
  'gstreamer1.0-vaapi': ['vaapih264enc', 'vaapih265enc', 'vaapijpegenc', 'vaapipostproc'],
};

const BY_ELEMENT = new Map<string, string>(Object.entries(BY_PACKAGE).flatMap(([pkg, els]) => els.map((e) => [e, pkg] as [string, string])));

export function debianPackageFor(factory: string): string | undefined {
  return BY_ELEMENT.get(factory);
}
