#!/usr/bin/python3
"""Reference peer for bench/rtsp.ts: gst-rtsp-server (Debian's, through gi) serving one shared
test-pattern stream with the same source and encoder settings as camd. Usage: PORT W H FPS KBPS."""
import sys
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib

port, w, h, fps, kbps = sys.argv[1:6]
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( videotestsrc is-live=true pattern=snow ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 '
    f'! x264enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={fps} bframes=0 '
    f'! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1 )')
factory.set_shared(True)
server.get_mount_points().add_factory('/stream1', factory)
server.attach(None)
print('ready', flush=True)
GLib.MainLoop().run()
