"""
Stand-ins for camera-board hardware, for camd's tests only (never installed on a board).

GStreamer elements under the names of the boards' hardware encoders (V4L2 M2M, VA, VA-API, Jetson,
Rockchip MPP), with the properties and units of the real elements, wrapping x264enc / x265enc /
jpegenc; Jetson's `nvvidconv`; and a device provider announcing cameras that deliver raw frames,
MJPEG or H.264 (`camdstandinsrc`, backed by videotestsrc, videotestsrc ! jpegenc, videotestsrc !
x264enc). They prove camd's logic (which family it picks, the units it sets, live changes, source
paths, hot-plug), not the boards: a real encoder's rate control, latency and limits are its own.

Loaded by gst-python's plugin loader (Debian gstreamer1.0-python3-plugin-loader, python3-gst-1.0)
from GST_PLUGIN_PATH/python. Environment:
- CAMD_STANDIN_NODES: folder of the encoders' "device nodes". Each stand-in opens
  <folder>/<basename of the real node> (video11, renderD128, nvhost-msenc, mpp_service) in READY,
  as the real element opens its node: a missing file fails the element (the trial encode too); a
  file that reads "hang" blocks it in READY for good, as a wedged driver does.
- CAMD_STANDIN_DEVICES: folder of cameras, one JSON file each (its path is the device path):
  {"name", "format": "raw"|"jpeg"|"h264", "modes": [{"width", "height", "rates": [30, 15]}],
   "controls": ["video_bitrate", ...], "pattern": "ball"}. A camera whose file is removed stops with
  an error, as v4l2src does when its camera is unplugged.

gst-python registers one element per file (`__gstelementfactory__`); the rest are registered on the
same plugin (`Gst.__plugin__`, set by the loader), so that GStreamer's registry cache knows them.
"""
import ctypes
import json
import os
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, GObject, Gst, GstBase, GstVideo  # noqa: E402

NODES = os.environ.get("CAMD_STANDIN_NODES", "")
DEVICES = os.environ.get("CAMD_STANDIN_DEVICES", "")


def node(basename):
    return os.path.join(NODES, basename) if NODES else "/nonexistent/" + basename


def post_error(element, code, text, debug):
    err = GLib.Error.new_literal(Gst.ResourceError.quark(), text, int(code))
    element.post_message(Gst.Message.new_error(element, err, debug))


def structure_fields(s):
    out = {}
    if s is None:
        return out
    for i in range(s.n_fields()):
        name = s.nth_field_name(i)
        out[name] = s.get_value(name)
    return out


# ---------------------------------------------------------------------------------------------
# Encoders


class StandinEncoder(Gst.Bin):
    """ghost sink ! [input restriction] ! inner software encoder ! ghost src"""

    INNER = "x264enc"
    NODE = "video11"
    INPUT = None  # caps string restricting the input, as the real element's sink template does
    INNER_DEFAULTS = {}

    def __init__(self):
        super().__init__()
        self.props_ = {}
        self.device = node(self.NODE)
        self.inner = Gst.ElementFactory.make(self.INNER, "inner")
        if self.INNER == "x264enc":
            for k, v in (("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("bframes", 0)):
                Gst.util_set_object_arg(self.inner, k, str(v))
        for k, v in self.INNER_DEFAULTS.items():
            Gst.util_set_object_arg(self.inner, k, str(v))
        self.add(self.inner)
        first = self.inner
        if self.INPUT:
            self.restrict = self.make_input()
            self.add(self.restrict)
            self.restrict.link(self.inner)
            first = self.restrict
        self.add_pad(Gst.GhostPad.new("sink", first.get_static_pad("sink")))
        self.add_pad(Gst.GhostPad.new("src", self.inner.get_static_pad("src")))

    def make_input(self):
        # The real element's input format, converted for the software encoder inside.
        bin_ = Gst.Bin.new(None)
        f = Gst.ElementFactory.make("capsfilter", None)
        f.set_property("caps", Gst.Caps.from_string(self.INPUT))
        conv = Gst.ElementFactory.make("videoconvert", None)
        bin_.add(f)
        bin_.add(conv)
        f.link(conv)
        bin_.add_pad(Gst.GhostPad.new("sink", f.get_static_pad("sink")))
        bin_.add_pad(Gst.GhostPad.new("src", conv.get_static_pad("src")))
        return bin_

    def do_change_state(self, transition):
        # The real element opens its device node when it goes to READY.
        if transition == Gst.StateChange.NULL_TO_READY and not os.path.exists(self.device):
            post_error(self, Gst.ResourceError.NOT_FOUND, "Cannot identify device '%s'." % self.device, "stand-in: no such file")
            return Gst.StateChangeReturn.FAILURE
        if transition == Gst.StateChange.NULL_TO_READY and open(self.device).read().strip() == "hang":
            # A driver whose open() never returns: blocks for good (<node>.blocked says it got here).
            open(self.device + ".blocked", "w").close()
            while True:
                time.sleep(3600)
        return Gst.Bin.do_change_state(self, transition)

    def set_inner(self, prop, value):
        Gst.util_set_object_arg(self.inner, prop, str(value))


def props_of(spec):
    """GObject property specs from {name: (type, default, blurb)}."""
    out = {}
    for name, (kind, default, blurb) in spec.items():
        if kind is str:
            out[name] = (str, name, blurb, default, GObject.ParamFlags.READWRITE)
        elif kind is bool:
            out[name] = (bool, name, blurb, default, GObject.ParamFlags.READWRITE)
        elif kind is Gst.Structure:
            out[name] = (Gst.Structure, name, blurb, GObject.ParamFlags.READWRITE)
        else:
            out[name] = (GObject.TYPE_UINT64, name, blurb, 0, 2**63, default, GObject.ParamFlags.READWRITE)
    return out


def encoder(factory, klass_name, inner, node_name, spec, apply, input_caps=None, inner_defaults=None, longname=None, klass="Codec/Encoder/Video/Hardware"):
    """A stand-in encoder (or decoder) class: `spec` are the real element's properties, `apply(self, name, value)` maps one onto the inner element."""
    defaults = {k: v[1] for k, v in spec.items()}

    def do_get_property(self, p):
        if p.name == "device":
            return self.device
        return self.props_.get(p.name, defaults.get(p.name))

    def do_set_property(self, p, value):
        if p.name == "device":
            self.device = value
            return
        self.props_[p.name] = value
        apply(self, p.name, value)

    cls = type(
        klass_name,
        (StandinEncoder,),
        {
            "__gtype_name__": klass_name,
            "__gstmetadata__": (longname or factory + " (camd test stand-in)", klass, "camd stand-in for " + factory, "camd"),
            "__gsttemplates__": (
                Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
                Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
            ),
            "__gproperties__": props_of({"device": (str, node(node_name), "stand-in: the device node it opens"), **spec}),
            "INNER": inner,
            "NODE": node_name,
            "INPUT": input_caps,
            "INNER_DEFAULTS": inner_defaults or {},
            "do_get_property": do_get_property,
            "do_set_property": do_set_property,
        },
    )
    return factory, cls


def v4l2_apply(codec):
    # extra-controls, as V4L2 M2M encoders take them (applied at once while the device is open).
    def apply(self, name, value):
        if name != "extra-controls":
            return
        for k, v in structure_fields(value).items():
            if k == "video_bitrate" and codec != "jpeg":
                self.set_inner("bitrate", max(1, int(v) // 1000))
            elif k in ("h264_i_frame_period", "video_gop_size") and codec != "jpeg":
                self.set_inner("key-int-max", int(v))
            elif k == "compression_quality" and codec == "jpeg":
                self.set_inner("quality", int(v))

    return apply


def kbps_apply(bitrate, gop, quality=None):
    def apply(self, name, value):
        if name == bitrate:
            self.set_inner("bitrate", max(1, int(value)))
        elif name == gop:
            self.set_inner("key-int-max", int(value))
        elif quality and name == quality:
            self.set_inner("quality", int(value))

    return apply


def bps_apply(bitrate, gop):
    def apply(self, name, value):
        if name == bitrate:
            self.set_inner("bitrate", max(1, int(value) // 1000))
        elif name == gop:
            self.set_inner("key-int-max", int(value))

    return apply


U = int  # an unsigned integer property
CTRL = {"extra-controls": (Gst.Structure, None, "Extra v4l2 controls (CIDs) for the device")}
ENCODERS = [
    # V4L2 M2M (Raspberry Pi 4/CM4 bcm2835-codec, i.MX8, Amlogic): everything through extra-controls.
    encoder("v4l2h264enc", "CamdStandinV4l2H264Enc", "x264enc", "video11", CTRL, v4l2_apply("h264")),
    encoder("v4l2h265enc", "CamdStandinV4l2H265Enc", "x265enc", "video11", CTRL, v4l2_apply("h265")),
    encoder("v4l2jpegenc", "CamdStandinV4l2JpegEnc", "jpegenc", "video11", CTRL, v4l2_apply("jpeg")),
    # A V4L2 M2M JPEG decoder (i.MX8's, on its own node): the hardware decoder of an MJPEG camera.
    encoder("v4l2jpegdec", "CamdStandinV4l2JpegDec", "jpegdec", "video10", {}, lambda self, name, value: None, klass="Codec/Decoder/Video/Hardware"),
    # VA (GStreamer's va plugin, Intel/AMD): bitrate in kbit/s, changeable while playing; NV12 in.
    encoder(
        "vah264enc",
        "CamdStandinVaH264Enc",
        "x264enc",
        "renderD128",
        {"bitrate": (U, 0, "kbit/s"), "key-int-max": (U, 0, "GOP"), "rate-control": (str, "cqp", ""), "target-usage": (U, 4, ""), "b-frames": (U, 0, "")},
        kbps_apply("bitrate", "key-int-max"),
        input_caps="video/x-raw,format=NV12",
    ),
    encoder(
        "vah265enc",
        "CamdStandinVaH265Enc",
        "x265enc",
        "renderD128",
        {"bitrate": (U, 0, "kbit/s"), "key-int-max": (U, 0, "GOP"), "rate-control": (str, "cqp", ""), "target-usage": (U, 4, ""), "b-frames": (U, 0, "")},
        kbps_apply("bitrate", "key-int-max"),
        input_caps="video/x-raw,format=NV12",
    ),
    encoder("vajpegenc", "CamdStandinVaJpegEnc", "jpegenc", "renderD128", {"quality": (U, 50, "")}, kbps_apply(None, None, "quality"), input_caps="video/x-raw,format=NV12"),
    # VA-API (gstreamer-vaapi, older Intel stacks).
    encoder(
        "vaapih264enc",
        "CamdStandinVaapiH264Enc",
        "x264enc",
        "renderD128",
        {"bitrate": (U, 0, "kbit/s"), "keyframe-period": (U, 30, "GOP"), "rate-control": (str, "cqp", ""), "max-bframes": (U, 0, "")},
        kbps_apply("bitrate", "keyframe-period"),
    ),
    # Jetson (L4T gst-v4l2): bit/s, NVMM input (from nvvidconv).
    encoder(
        "nvv4l2h264enc",
        "CamdStandinNvV4l2H264Enc",
        "x264enc",
        "nvhost-msenc",
        {
            "bitrate": (U, 4000000, "bit/s"),
            "iframeinterval": (U, 30, "GOP"),
            "idrinterval": (U, 256, ""),
            "profile": (U, 0, "0 baseline, 2 main, 4 high"),
            "control-rate": (U, 1, "0 variable, 1 constant"),
            "insert-sps-pps": (bool, False, ""),
            "maxperf-enable": (bool, False, ""),
            "preset-level": (U, 1, ""),
        },
        bps_apply("bitrate", "iframeinterval"),
        input_caps="video/x-raw(memory:NVMM)",
    ),
    encoder(
        "nvv4l2h265enc",
        "CamdStandinNvV4l2H265Enc",
        "x265enc",
        "nvhost-msenc",
        {
            "bitrate": (U, 4000000, "bit/s"),
            "iframeinterval": (U, 30, "GOP"),
            "idrinterval": (U, 256, ""),
            "control-rate": (U, 1, ""),
            "insert-sps-pps": (bool, False, ""),
            "maxperf-enable": (bool, False, ""),
            "preset-level": (U, 1, ""),
        },
        bps_apply("bitrate", "iframeinterval"),
        input_caps="video/x-raw(memory:NVMM)",
    ),
    # Rockchip MPP (gstreamer-rockchip): bit/s as `bps`, GOP as `gop`.
    encoder(
        "mpph264enc",
        "CamdStandinMppH264Enc",
        "x264enc",
        "mpp_service",
        {"bps": (U, 0, "bit/s"), "bps-min": (U, 0, ""), "bps-max": (U, 0, ""), "gop": (U, 0, ""), "rc-mode": (str, "cbr", ""), "profile": (str, "high", ""), "header-mode": (str, "first-frame", "")},
        bps_apply("bps", "gop"),
    ),
    encoder(
        "mpph265enc",
        "CamdStandinMppH265Enc",
        "x265enc",
        "mpp_service",
        {"bps": (U, 0, "bit/s"), "bps-min": (U, 0, ""), "bps-max": (U, 0, ""), "gop": (U, 0, ""), "rc-mode": (str, "cbr", ""), "header-mode": (str, "first-frame", "")},
        bps_apply("bps", "gop"),
    ),
]


def swap_features(caps, to_nvmm):
    """The same structures in system memory and NVMM (nvvidconv converts both ways)."""
    out = Gst.Caps.new_empty()
    for i in range(caps.get_size()):
        s = caps.get_structure(i).copy()
        sys_caps = Gst.Caps.new_empty()
        sys_caps.append_structure(s.copy())
        nvmm = Gst.Caps.new_empty()
        nvmm.append_structure(s.copy())
        nvmm.set_features(0, Gst.CapsFeatures.from_string("memory:NVMM"))
        out = out.merge(nvmm if to_nvmm else sys_caps)
        out = out.merge(sys_caps if to_nvmm else nvmm)
    return out


class NvmmSwap(GstBase.BaseTransform):
    """The same buffers, labelled NVMM or system memory: what nvvidconv's memory move looks like to caps."""

    __gtype_name__ = "CamdStandinNvmmSwap"
    __gstmetadata__ = ("NVMM caps swap (camd test stand-in)", "Filter/Converter/Video", "camd stand-in", "camd")
    _any = Gst.Caps.from_string("video/x-raw; video/x-raw(memory:NVMM)")
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, _any),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, _any),
    )

    def __init__(self):
        super().__init__()
        self.set_passthrough(True)

    def do_transform_caps(self, direction, caps, filt):
        out = swap_features(caps, direction == Gst.PadDirection.SINK)
        return out.intersect(filt) if filt else out


class NvVidConv(Gst.Bin):
    """Jetson's nvvidconv converts formats and moves frames into NVMM buffers: videoconvert, then NVMM caps."""

    __gtype_name__ = "CamdStandinNvVidConv"
    __gstmetadata__ = ("nvvidconv (camd test stand-in)", "Filter/Converter/Video", "camd stand-in for nvvidconv", "camd")
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, NvmmSwap._any),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, NvmmSwap._any),
    )

    def __init__(self):
        super().__init__()
        to_sys = NvmmSwap()
        sysmem = Gst.ElementFactory.make("capsfilter", None)
        sysmem.set_property("caps", Gst.Caps.from_string("video/x-raw"))
        conv = Gst.ElementFactory.make("videoconvert", None)
        swap = NvmmSwap()
        chain = [to_sys, sysmem, conv, swap]
        for e in chain:
            self.add(e)
        for a, b in zip(chain, chain[1:]):
            a.link(b)
        self.add_pad(Gst.GhostPad.new("sink", to_sys.get_static_pad("sink")))
        self.add_pad(Gst.GhostPad.new("src", swap.get_static_pad("src")))


# Inside the Jetson encoder stand-ins: NVMM in, system memory to the software encoder.
def _nvmm_input(self):
    bin_ = Gst.Bin.new(None)
    f = Gst.ElementFactory.make("capsfilter", None)
    f.set_property("caps", Gst.Caps.from_string("video/x-raw(memory:NVMM)"))
    conv = NvmmSwap()
    sysmem = Gst.ElementFactory.make("capsfilter", None)
    sysmem.set_property("caps", Gst.Caps.from_string("video/x-raw"))
    # x265enc takes no NV12: convert for the software encoder inside.
    convert = Gst.ElementFactory.make("videoconvert", None)
    chain = (f, conv, sysmem, convert)
    for e in chain:
        bin_.add(e)
    for a, b in zip(chain, chain[1:]):
        a.link(b)
    bin_.add_pad(Gst.GhostPad.new("sink", f.get_static_pad("sink")))
    bin_.add_pad(Gst.GhostPad.new("src", convert.get_static_pad("src")))
    return bin_


for _factory, _cls in ENCODERS:
    if _cls.INPUT == "video/x-raw(memory:NVMM)":
        _cls.make_input = _nvmm_input


# ---------------------------------------------------------------------------------------------
# Cameras


def read_camera(path):
    with open(path) as f:
        return json.load(f)


def mode_caps(media, extra, modes):
    parts = []
    for m in modes:
        rates = ",".join("%d/1" % r for r in m["rates"])
        parts.append("%s%s,width=%d,height=%d,framerate={%s}" % (media, extra, m["width"], m["height"], rates))
    return Gst.Caps.from_string("; ".join(parts))


MEDIA = {"raw": ("video/x-raw", ",format=YUY2"), "jpeg": ("image/jpeg", ""), "h264": ("video/x-h264", ",stream-format=byte-stream,alignment=au")}


def camera_caps(cam):
    media, extra = MEDIA[cam["format"]]
    return mode_caps(media, extra, cam["modes"])


class StandinCameraSrc(Gst.Bin):
    """A camera: videotestsrc [! jpegenc | ! x264enc], limited to the modes its file lists."""

    __gtype_name__ = "CamdStandinCameraSrc"
    __gstmetadata__ = ("camd stand-in camera", "Source/Video", "camd test camera", "camd")
    __gsttemplates__ = (Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),)
    __gproperties__ = {
        "device": (str, "device", "the camera's file", "", GObject.ParamFlags.READWRITE),
        "extra-controls": (Gst.Structure, "extra-controls", "Extra v4l2 controls (CIDs) for the device", GObject.ParamFlags.READWRITE),
        "do-timestamp": (bool, "do-timestamp", "ignored (videotestsrc timestamps live)", False, GObject.ParamFlags.READWRITE),
    }

    def __init__(self):
        super().__init__()
        self.device = ""
        self.controls = None
        self.cam = None
        self.encoder = None
        self.out_filter = None
        self.count = 0
        self.gone = False
        self.ghost = Gst.GhostPad.new_no_target("src", Gst.PadDirection.SRC)
        self.add_pad(self.ghost)

    def do_get_property(self, p):
        if p.name == "device":
            return self.device
        if p.name == "extra-controls":
            return self.controls
        return False

    def do_set_property(self, p, value):
        if p.name == "device":
            self.device = value
        elif p.name == "extra-controls":
            self.controls = value
            self.apply_controls()

    def build(self):
        cam = self.cam
        src = Gst.ElementFactory.make("videotestsrc", None)
        src.set_property("is-live", True)
        Gst.util_set_object_arg(src, "pattern", cam.get("pattern", "ball"))
        chain = [src]
        raw = Gst.ElementFactory.make("capsfilter", None)
        fmt = "raw" if cam["format"] == "raw" else "i420"
        raw.set_property("caps", camera_caps(cam) if fmt == "raw" else mode_caps("video/x-raw", ",format=I420", cam["modes"]))
        chain.append(raw)
        # Named so that tests can read what the camera's encoder was told (its controls).
        if cam["format"] == "jpeg":
            self.encoder = Gst.ElementFactory.make("jpegenc", "camera_encoder")
        elif cam["format"] == "h264":
            self.encoder = Gst.ElementFactory.make("x264enc", "camera_encoder")
            for k, v in (("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("bframes", "0"), ("key-int-max", "30"), ("bitrate", "2000")):
                Gst.util_set_object_arg(self.encoder, k, v)
        if self.encoder:
            chain.append(self.encoder)
            self.out_filter = Gst.ElementFactory.make("capsfilter", None)
            self.out_filter.set_property("caps", camera_caps(cam))
            chain.append(self.out_filter)
        for e in chain:
            self.add(e)
        for a, b in zip(chain, chain[1:]):
            a.link(b)
        self.ghost.set_target(chain[-1].get_static_pad("src"))
        src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.check_plugged)
        self.apply_controls()

    def check_plugged(self, pad, info):
        # An unplugged camera: v4l2src fails with "Could not read from resource".
        self.count += 1
        if self.gone:
            return Gst.PadProbeReturn.DROP
        if self.count % 5 == 0 and not os.path.exists(self.device):
            self.gone = True
            post_error(self, Gst.ResourceError.READ, "Could not read from resource.", "stand-in: %s was unplugged" % self.device)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def apply_controls(self):
        if not self.cam or not self.encoder or self.controls is None:
            return
        has = set(self.cam.get("controls", []))
        for k, v in structure_fields(self.controls).items():
            if k not in has:
                continue  # a driver without the control ignores it (v4l2src logs a warning)
            if k == "video_bitrate":
                Gst.util_set_object_arg(self.encoder, "bitrate", str(max(1, int(v) // 1000)))
            elif k == "h264_i_frame_period":
                Gst.util_set_object_arg(self.encoder, "key-int-max", str(int(v)))
            elif k == "h264_profile":
                names = {0: "baseline", 1: "constrained-baseline", 2: "main", 4: "high"}
                caps = camera_caps(self.cam)
                for i in range(caps.get_size()):
                    caps.get_structure(i).set_value("profile", names.get(int(v), "high"))
                self.out_filter.set_property("caps", caps)
            elif k == "force_key_frame" and int(v):
                event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
                self.encoder.get_static_pad("src").send_event(event)

    def do_change_state(self, transition):
        if transition == Gst.StateChange.NULL_TO_READY:
            try:
                self.cam = read_camera(self.device)
            except (OSError, ValueError) as e:
                post_error(self, Gst.ResourceError.NOT_FOUND, "Cannot identify device '%s'." % self.device, str(e))
                return Gst.StateChangeReturn.FAILURE
            if self.encoder is None and not self.children:
                self.build()
        return Gst.Bin.do_change_state(self, transition)


class StandinCamera(Gst.Device):
    def __init__(self, path, cam):
        props = Gst.Structure.new_empty("camd-standin")
        props.set_value("device.path", path)
        props.set_value("device.api", "camd-standin")
        # A V4L2 driver's controls are read with v4l2-ctl on a board; the stand-in announces them here.
        props.set_value("device.controls", ",".join(cam.get("controls", [])))
        super().__init__(display_name=cam.get("name", os.path.basename(path)), device_class="Video/Source", caps=camera_caps(cam), properties=props)
        self.path = path

    def do_create_element(self, name):
        el = Gst.ElementFactory.make("camdstandinsrc", name)
        el.set_property("device", self.path)
        return el


class StandinCameraProvider(Gst.DeviceProvider):
    """Announces the cameras in CAMD_STANDIN_DEVICES when a monitor starts."""

    __gtype_name__ = "CamdStandinCameraProvider"

    def do_start(self):
        if DEVICES and os.path.isdir(DEVICES):
            for name in sorted(os.listdir(DEVICES)):
                path = os.path.join(DEVICES, name)
                try:
                    cam = read_camera(path)
                except (OSError, ValueError):
                    continue
                self.device_add(StandinCamera(path, cam))
        return True

    def do_stop(self):
        # GstDeviceProvider drops its devices itself after stop().
        pass


def provider_metadata(cls, **kv):
    # PyGObject has no class_init for device providers: set their metadata on the class directly.
    gobject = ctypes.CDLL("libgobject-2.0.so.0")
    gst = ctypes.CDLL("libgstreamer-1.0.so.0")
    gobject.g_type_class_ref.restype = ctypes.c_void_p
    gobject.g_type_class_ref.argtypes = [ctypes.c_size_t]
    gst.gst_device_provider_class_add_metadata.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    klass = gobject.g_type_class_ref(hash(cls.__gtype__))
    for k, v in kv.items():
        gst.gst_device_provider_class_add_metadata(klass, k.replace("_", "-").encode(), v.encode())


_plugin = getattr(Gst, "__plugin__", None)
if _plugin is not None:
    for _factory, _cls in ENCODERS:
        Gst.Element.register(_plugin, _factory, Gst.Rank.PRIMARY, _cls)
    Gst.Element.register(_plugin, "nvvidconv", Gst.Rank.NONE, NvVidConv)
    provider_metadata(StandinCameraProvider, long_name="camd stand-in cameras", klass="Video/Source", description="camd test cameras", author="camd")
    Gst.DeviceProvider.register(_plugin, "camdstandinprovider", Gst.Rank.PRIMARY, StandinCameraProvider)

__gstelementfactory__ = ("camdstandinsrc", Gst.Rank.NONE, StandinCameraSrc)
