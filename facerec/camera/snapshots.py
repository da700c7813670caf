"""Snapshot cameras: an HTTP URL that answers each request with one JPEG (an ESP32-CAM's
``/capture``, many doorbells, NVR snapshot URLs), polled at the camera's snapshot rate.

An ``http(s)://`` camera is asked once when it is opened: a picture makes it a snapshot
camera; a stream (multipart MJPEG, video) goes to FFmpeg like any other stream URL.
Credentials in the URL are sent as HTTP Basic or Digest authentication, whichever the camera
asks for, and never appear in a message. Redirects are not followed: a camera's address is
the one its administrator typed.
"""

from __future__ import annotations

import http
import time
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2
import numpy as np

from .sources import (
    FrameSource,
    SourceError,
    SourceOptions,
    Unreachable,
    UrlSource,
    check_url,
    describe,
    network_failure,
)

# A larger answer is not a camera's snapshot.
MAX_BYTES = 20 * 1024 * 1024
# Content types that are a stream or a video for FFmpeg, never one picture.
STREAM_TYPES = ("multipart/", "video/", "application/vnd.apple.mpegurl", "application/x-mpegurl")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        fp.close()
        raise SourceError(
            f"the camera answered with a redirect (HTTP {code}); camera redirects are not "
            "followed: enter the address it points to"
        )


class _BasicAuth(urllib.request.HTTPBasicAuthHandler):
    def http_error_401(self, req, fp, code, msg, headers):
        fp.close()  # urllib retries with the credentials and leaves the refusal open
        return super().http_error_401(req, fp, code, msg, headers)


class _DigestAuth(urllib.request.HTTPDigestAuthHandler):
    def http_error_401(self, req, fp, code, msg, headers):
        fp.close()
        return super().http_error_401(req, fp, code, msg, headers)


class _Answer:
    """One HTTP answer of a camera: its content type, and the picture when it is one."""

    def __init__(self, content_type: str, frame=None):
        self.content_type = content_type
        self.frame = frame


class SnapshotClient:
    """GETs one URL with the credentials it holds; each answer checked and decoded."""

    def __init__(self, spec: str, timeout: float):
        self.spec = spec
        self.timeout = timeout
        parts = urlsplit(spec)
        self.host, self.port = (
            parts.hostname or "",
            parts.port or (443 if parts.scheme.lower() == "https" else 80),
        )
        self.has_credentials = parts.username is not None
        hostport = parts.netloc.rpartition("@")[2]
        self.url = urlunsplit((parts.scheme, hostport, parts.path or "/", parts.query, ""))
        # Basic credentials go with every request once the camera has accepted them (not one
        # refused request per picture); Digest answers each request's challenge.
        passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
        if self.has_credentials:
            passwords.add_password(
                None, self.url, unquote(parts.username or ""), unquote(parts.password or "")
            )
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # cameras are reached directly
            _BasicAuth(passwords),
            _DigestAuth(passwords),
            _NoRedirects(),
        )

    def get(self, read_streams: bool = False) -> _Answer:
        """One request: the picture, or only the content type of a stream (not read)."""
        request = urllib.request.Request(
            self.url,
            headers={"User-Agent": "facerec", "Accept": "image/jpeg, image/*;q=0.9, */*;q=0.5"},
        )
        deadline = time.monotonic() + self.timeout
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise SourceError(self._refused(exc.code)) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, SourceError):
                raise exc.reason from None
            raise Unreachable(self._network(exc.reason)) from None
        except OSError as exc:
            raise Unreachable(self._network(exc)) from None
        with response:
            content_type = response.headers.get_content_type()
            if content_type.startswith(STREAM_TYPES) and not read_streams:
                return _Answer(content_type)
            if content_type == "text/html":
                raise SourceError(
                    "the address answers with a web page, not a picture or a video stream: "
                    "use the camera's snapshot or stream address"
                )
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_BYTES:
                raise SourceError(f"the camera's answer is too large for a snapshot ({length} B)")
            data = self._read(response, deadline)
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if frame is None and content_type.startswith("image/"):
            raise SourceError(f"the camera sent a picture ({content_type}) that cannot be decoded")
        return _Answer(content_type, frame)

    def _read(self, response, deadline: float) -> bytes:
        chunks, size = [], 0
        try:
            while chunk := response.read1(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BYTES:
                    raise SourceError("the camera's answer is too large for a snapshot")
                if time.monotonic() > deadline:
                    raise SourceError(
                        f"the picture took more than {self.timeout:g} s to arrive (a slow or "
                        "stalled camera)"
                    )
        except OSError as exc:
            raise Unreachable(self._network(exc)) from None
        return b"".join(chunks)

    def _network(self, exc) -> str:
        return network_failure(exc, self.host, self.port, self.timeout)

    def _refused(self, code: int) -> str:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        if code in (401, 403):
            if self.has_credentials:
                return f"the camera refused the user name or password (HTTP {code} {phrase})"
            return f"the camera needs a user name and password (HTTP {code} {phrase})"
        if code == 404:
            return "the camera has nothing at this address (HTTP 404 Not Found): check the path"
        return f"the camera answered HTTP {code} {phrase}"


class SnapshotSource(FrameSource):
    """Polls the URL at ``options.snapshot_rate`` requests a second (start to start: a slow
    answer delays the next request, never doubles it up). Failed requests are retried at the
    same rate; no picture for ``options.timeout`` seconds ends the stream with the reason, and
    the camera service's back-off takes over."""

    kind = "snapshot"

    def __init__(self, spec, options: SourceOptions, client: SnapshotClient, first, opened_at):
        super().__init__(spec, options)
        self.opened_at = opened_at
        self.client = client
        self.fps = options.snapshot_rate
        self._first = first
        self._first_at = time.monotonic()

    def codec(self) -> str:
        return "JPEG"

    def frames(self, stop):
        period = 1.0 / self.fps
        timeout = self.options.timeout
        frame, self._first = self._first, None
        started = self._first_at
        last_good = started
        index = 0
        while not stop.is_set():
            if frame is not None:
                last_good = time.monotonic()
                yield index, frame
                index += 1
            wait = started + period - time.monotonic()
            if wait > 0 and stop.wait(wait):
                return
            started = time.monotonic()
            try:
                frame = self.client.get(read_streams=True).frame
                if frame is None:
                    raise SourceError("the camera's answer is not a picture")
            except SourceError as exc:
                frame = None
                if time.monotonic() - last_good >= timeout:
                    raise SourceError(f"{exc} (no picture for {timeout:g} s)") from None


class HttpSource(UrlSource):
    """An ``http(s)://`` camera: a snapshot camera when it answers with a picture, else a
    stream FFmpeg reads (MJPEG, HLS...). Only ``open`` is used: it returns one or the other."""

    @classmethod
    def handles(cls, spec: str) -> bool:
        return spec.lower().startswith(("http://", "https://"))

    @classmethod
    def open(cls, spec: str, options: SourceOptions) -> FrameSource:
        check_url(spec)
        opened_at = time.monotonic()
        client = SnapshotClient(spec, options.timeout)
        answer = client.get()
        if answer.frame is not None:
            return SnapshotSource(spec, options, client, answer.frame, opened_at)
        try:
            return UrlSource(spec, options)
        except SourceError:
            raise SourceError(
                f"{describe(spec)} answered ({answer.content_type}) but FFmpeg cannot read it "
                "as a video stream"
            ) from None
