#!/usr/bin/python3
"""Reference peer for the RTSP benchmarks: gst-rtsp-server (Debian's, through gi) serving one shared
test-pattern stream with the same source and encoder settings as camd.

Usage: PORT W H FPS KBPS [--pattern snow] [--backlog N] [--digest USER:PASSWORD]
--backlog: the listen backlog (gst-rtsp-server's default of 5 drops connect bursts).
--digest: readers need RTSP Digest authentication (GstRtsp.RTSPAuthMethod.DIGEST) as USER."""
import sys
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtsp, GstRtspServer, GLib

port, w, h, fps, kbps = sys.argv[1:6]
opts = dict(zip(sys.argv[6::2], sys.argv[7::2]))
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
if '--backlog' in opts:
    server.set_backlog(int(opts['--backlog']))
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( videotestsrc is-live=true pattern={opts.get("--pattern", "snow")} ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 '
    f'! x264enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={fps} bframes=0 '
    f'! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1 )')
factory.set_shared(True)
if '--digest' in opts:
    user, password = opts['--digest'].split(':', 1)
    auth = GstRtspServer.RTSPAuth()
    # gi takes one method here (the C API's bit mask is not a flags type): Digest only.
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    token = GstRtspServer.RTSPToken()
    token.set_string('media.factory.role', 'viewer')
    auth.add_digest(user, password, token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role('viewer')
    permissions.add_permission_for_role('viewer', 'media.factory.access', True)
    permissions.add_permission_for_role('viewer', 'media.factory.construct', True)
    factory.set_permissions(permissions)
server.get_mount_points().add_factory('/stream1', factory)
server.attach(None)
print('ready', flush=True)
GLib.MainLoop().run()
