"""A real RTSP server for the tests: GStreamer's gst-rtsp-server serving a video as H.264.

Run with Debian's own ``/usr/bin/python3`` (it needs ``python3-gi`` and the GStreamer
packages the Makefile's ``rtsp`` target installs), never with the project's virtualenv:

    /usr/bin/python3 tests/gst_rtsp_server.py --port 8554 --video clip.mp4 --cache DIR \
        --stream main=1280x720 --stream sub=320x180

serves ``rtsp://127.0.0.1:8554/main`` and ``rtsp://127.0.0.1:8554/sub``, each the video
scaled to that size, looped for ever, at the video's own frame rate, over TCP or UDP as the
client asks. Like a live camera, every stream shows the same moment: a client joins where the
video has got to since the server started, so two streams opened at different times show the
same frame at the same time, as a camera's main and sub-stream do.

The video is encoded once per size (x264, a key frame every second) and the encoded frames
are kept in ``--cache``; a restarted server (the drop tests kill and restart it) reads them
back and listens at once, and serving costs no encoding at all. It prints ``ready`` on a line
of its own once it listens. ``--check`` only says whether every GStreamer element it needs is
installed (exit status 0) or which are missing.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
import time
from fractions import Fraction
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

MAGIC = b"facerec-h264-frames 3\n"
# Frames between two key frames, where a client may join: every frame, so that a client
# joins at the live moment itself and a main and a sub-stream show the same moment, as a
# camera's do (loopback carries the larger stream easily).
KEY_EVERY = 1
# Every GStreamer element used here, and the Debian package that brings it.
ELEMENTS = {
    "filesrc": "gstreamer1.0-plugins-base (libgstreamer1.0)",
    "decodebin": "gstreamer1.0-plugins-base",
    "qtdemux": "gstreamer1.0-plugins-good",
    "avdec_h264": "gstreamer1.0-libav",
    "videoconvert": "gstreamer1.0-plugins-base",
    "videoscale": "gstreamer1.0-plugins-base",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "appsink": "gstreamer1.0-plugins-base",
    "appsrc": "gstreamer1.0-plugins-base",
    "h264parse": "gstreamer1.0-plugins-bad",
    "rtph264pay": "gstreamer1.0-plugins-good",
}


def missing_elements() -> list[str]:
    return [
        f"{name} ({package})"
        for name, package in ELEMENTS.items()
        if Gst.ElementFactory.find(name) is None
    ]


def encode(video: Path, width: int, height: int) -> tuple[Fraction, list[tuple[bool, bytes]]]:
    """The video as H.264 access units at ``width`` x ``height``: (frame rate, [(key, data)])."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{video}" ! decodebin ! videoconvert ! videoscale '
        f"! video/x-raw,format=I420,width={width},height={height},pixel-aspect-ratio=1/1 "
        # No B-frames: every decoder reads it, and frames come out in order. Constant quality,
        # so a small size costs few bytes; frequent key frames, where clients may join.
        "! x264enc tune=zerolatency speed-preset=veryfast pass=qual quantizer=23 "
        f"key-int-max={KEY_EVERY} bframes=0 "
        "! video/x-h264,stream-format=byte-stream,alignment=au "
        "! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frames, rate = [], None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        if rate is None:
            ok, num, den = sample.get_caps().get_structure(0).get_fraction("framerate")
            rate = Fraction(num, den) if ok and num else Fraction(25)
        buffer = sample.get_buffer()
        key = not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)
        frames.append((key, buffer.extract_dup(0, buffer.get_size())))
    bus = pipeline.get_bus()
    error = bus.pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if error is not None:
        raise SystemExit(f"cannot encode {video}: {error.parse_error()[0].message}")
    if not frames or not frames[0][0]:
        raise SystemExit(f"cannot encode {video}: no frames, or the first is not a key frame")
    return rate, with_parameter_sets(frames)


def nal_units(data: bytes) -> list[bytes]:
    """An Annex B access unit's NAL units, each with its start code."""
    starts = []
    at = data.find(b"\x00\x00\x01")
    while at >= 0:
        begin = at - 1 if at > 0 and data[at - 1] == 0 else at
        starts.append((begin, at + 3))
        at = data.find(b"\x00\x00\x01", at + 3)
    return [
        data[begin : (starts[i + 1][0] if i + 1 < len(starts) else len(data))]
        for i, (begin, _payload) in enumerate(starts)
    ]


def with_parameter_sets(frames):
    """Every key frame carrying the SPS and PPS, as x264 writes them only before the first:
    a client joins at any key frame (each gets a pipeline of its own, which learns the
    parameter sets from the first frame it is given)."""

    def kind(unit: bytes) -> int:
        return unit[unit.index(b"\x00\x00\x01") + 3] & 0x1F

    headers = [unit for unit in nal_units(frames[0][1]) if kind(unit) in (7, 8)]
    out = []
    for key, data in frames:
        units = nal_units(data)
        if key and not any(kind(unit) == 7 for unit in units):
            lead = 1 if units and kind(units[0]) == 9 else 0  # after the access unit delimiter
            units = units[:lead] + headers + units[lead:]
        out.append((key, b"".join(units)))
    return out


def cached(video: Path, cache: Path, width: int, height: int):
    """``encode``'s result, from ``cache`` when the same video was encoded at that size before."""
    digest = hashlib.sha256(video.read_bytes()).hexdigest()[:16]
    path = cache / f"{video.stem}-{digest}-{width}x{height}.frames"
    if path.is_file():
        data = path.read_bytes()
        if data.startswith(MAGIC):
            return _load(data[len(MAGIC) :])
    rate, frames = encode(video, width, height)
    cache.mkdir(parents=True, exist_ok=True)
    parts = [MAGIC, struct.pack("<II", rate.numerator, rate.denominator)]
    for key, data in frames:
        parts.append(struct.pack("<?I", key, len(data)))
        parts.append(data)
    partial = path.with_suffix(".partial")
    partial.write_bytes(b"".join(parts))
    partial.replace(path)  # a server killed while writing leaves no half file behind
    return rate, frames


def _load(data: bytes):
    num, den = struct.unpack_from("<II", data)
    offset, frames = 8, []
    while offset < len(data):
        key, size = struct.unpack_from("<?I", data, offset)
        offset += 5
        frames.append((key, data[offset : offset + size]))
        offset += size
    return Fraction(num, den), frames


class LoopedVideo(GstRtspServer.RTSPMediaFactory):
    """One media per client: the encoded frames pushed through appsrc, looped, timestamped
    as a live source so the server's sinks send them at the video's frame rate, starting at
    the key frame at or before where the video has got to since ``started``."""

    def __init__(self, rate: Fraction, frames, width: int, height: int, started: float):
        super().__init__()
        self.rate, self.frames, self.started = rate, frames, started
        self.duration = int(Gst.SECOND / rate)
        self.set_shared(False)
        self.set_launch(
            "( appsrc name=video is-live=true format=time "
            f"caps=video/x-h264,stream-format=byte-stream,alignment=au,width={width},"
            f"height={height},framerate={rate.numerator}/{rate.denominator} "
            "! h264parse ! rtph264pay name=pay0 pt=96 )"
        )
        self.connect("media-configure", self._configure)

    def _configure(self, _factory, media):
        appsrc = media.get_element().get_child_by_name("video")
        live = int((time.monotonic() - self.started) * self.rate) % len(self.frames)
        first = max(i for i in range(live + 1) if self.frames[i][0])
        position = {"n": 0, "first": first}
        appsrc.connect("need-data", self._push, position)

    def _push(self, appsrc, _length, position):
        n = position["n"]
        key, data = self.frames[(position["first"] + n) % len(self.frames)]
        buffer = Gst.Buffer.new_wrapped(data)
        buffer.pts = buffer.dts = n * Gst.SECOND * self.rate.denominator // self.rate.numerator
        buffer.duration = self.duration
        if not key:
            buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
        position["n"] = n + 1
        appsrc.emit("push-buffer", buffer)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check the installation")
    parser.add_argument("--port", type=int)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--video", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument(
        "--stream",
        action="append",
        default=[],
        metavar="NAME=WxH",
        help="serve the video at this size under /NAME (repeatable)",
    )
    args = parser.parse_args(argv)
    Gst.init(None)
    missing = missing_elements()
    if args.check or missing:
        if missing:
            raise SystemExit("GStreamer elements missing: " + ", ".join(missing))
        return 0
    if args.port is None or args.video is None or args.cache is None:
        parser.error("--port, --video and --cache are needed to serve")
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    started = time.monotonic()
    for item in args.stream or ["main=640x360"]:
        name, _, size = item.partition("=")
        width, _, height = size.partition("x")
        rate, frames = cached(args.video, args.cache, int(width), int(height))
        factory = LoopedVideo(rate, frames, int(width), int(height), started)
        mounts.add_factory(f"/{name}", factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on {args.address}:{args.port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    sys.exit(main())
