from flask import Response, abort, jsonify, render_template, request, url_for

from .. import camera
from ..auth.roles import can_see_camera, require_camera, requires, visible_cameras
from ..camera.service import ACTIVITY_WORDS
from ..web import wants_json
from . import bp, capacity

BOUNDARY = "frame"
WIDTH_MIN, WIDTH_MAX = 16, 7680
FPS_MIN, FPS_MAX = 0.1, 120.0


def camera_or_404(name: str):
    """The enabled camera ``name``, or a 404 that says whether it exists but is disabled.

    A request limited to other cameras gets 403 first, whether the camera exists or not.
    """
    require_camera(name)
    service = camera.get(name)
    if service is not None:
        return service
    if any(spec.name == name for spec in camera.registry().specs()):
        abort(404, description=f"The camera “{name}” is disabled.")
    abort(404, description=f"There is no camera named “{name}”.")


def stream_options() -> dict:
    """``?width=`` (pixels) and ``?fps=`` (a cap) of a stream request; 400 when out of range."""
    options = {}
    width = request.args.get("width", "").strip()
    if width:
        if not width.isdigit() or not WIDTH_MIN <= int(width) <= WIDTH_MAX:
            abort(400, description=f"width must be a whole number from {WIDTH_MIN} to {WIDTH_MAX}.")
        options["width"] = int(width)
    fps = request.args.get("fps", "").strip()
    if fps:
        try:
            value = float(fps)
        except ValueError:
            value = -1.0
        if not FPS_MIN <= value <= FPS_MAX:
            abort(400, description=f"fps must be a number from {FPS_MIN:g} to {FPS_MAX:g}.")
        options["fps"] = value
    return options


def _live_page(service, *, single: bool):
    name = service.camera
    configured = bool(camera.services())
    if single:
        urls = {
            "stream": url_for("stream.camera_stream", name=name),
            "status": url_for("api.camera_status", name=name),
            "start": url_for("api.camera_start", name=name),
            "stop": url_for("api.camera_stop", name=name),
        }
    else:
        urls = {
            "stream": url_for("stream.stream"),
            "status": url_for("api.stream_status"),
            "start": url_for("api.stream_start"),
            "stop": url_for("api.stream_stop"),
        }
    return render_template(
        "stream/live.html",
        status=service.status(),
        activity_words=ACTIVITY_WORDS,
        # The faces' distances are read against the tolerance this camera names them with.
        tolerance=service.tuning.tolerance,
        name=name if configured else None,
        urls=urls,
        others=[s.camera for s in camera.services() if can_see_camera(s.camera)],
    )


def first_camera():
    """The first camera (/stream.mjpg, /api/v1/stream/*), 403 for a request limited to others."""
    service = camera.service()
    if camera.services():
        require_camera(service.camera)
    return service


@bp.get("/")
@requires("live")
def live():
    """The live page: a grid of the cameras this account sees, or the only one with its controls."""
    services = camera.services()
    if visible_cameras() is None and len(services) < 2:
        return _live_page(camera.service(), single=False)
    services = [s for s in services if can_see_camera(s.camera)]
    if len(services) == 1:
        return _live_page(services[0], single=True)
    return render_template(
        "stream/grid.html",
        cameras=[(s.camera, s.status()) for s in services],
        activity_words=ACTIVITY_WORDS,
    )


@bp.get("/cameras/<name>")
@requires("live")
def camera_view(name):
    """One camera: its stream, Start/Stop and who is in view (a bookmarkable address)."""
    return _live_page(camera_or_404(name), single=True)


def _mjpeg(service, **options):
    """The MJPEG response of one camera: every camera's stream route answers with it.

    It takes one of the FACEREC_MAX_VIEWERS slots (shared by every camera: they share the
    server's threads) or answers 503 at once, and limits how long a frame may wait to be sent.
    """
    slots = capacity.slots()
    if not slots.take():
        return too_many_viewers(slots.limit)
    try:
        frames = service.frames(**options)
        capacity.limit_send_time()
    except BaseException:
        slots.give_back()
        raise

    def parts():
        try:
            for jpeg in frames:
                yield (
                    (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(jpeg)}\r\n\r\n"
                    ).encode()
                    + jpeg
                    + b"\r\n"
                )
        finally:
            frames.close()  # unregisters the viewer at once, even before the generator is collected
            slots.give_back()

    response = Response(parts(), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}")
    response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    response.headers["Pragma"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # tell nginx-style proxies not to buffer
    return response


@bp.get("/stream.mjpg")
@requires("stream")
def stream():
    """MJPEG of the first camera, or a placeholder without a camera (``?width=``, ``?fps=``)."""
    return _mjpeg(first_camera(), **stream_options())


@bp.get("/cameras/<name>/stream.mjpg")
@requires("stream")
def camera_stream(name):
    """MJPEG of one camera (``?width=W`` downscales, ``?fps=F`` caps the frame rate)."""
    options = stream_options()
    return _mjpeg(camera_or_404(name), **options)


# Seconds a refused viewer is asked to wait before it tries again.
VIEWER_RETRY_AFTER = 10


def too_many_viewers(limit: int):
    """503 at once: the stream is full, and pages, API and health keep their threads."""
    message = (
        f"The stream has its maximum of {limit} viewers (FACEREC_MAX_VIEWERS). "
        "Try again in a moment."
    )
    if wants_json():
        response = jsonify(error=message)
    else:
        response = Response(message + "\n", mimetype="text/plain")
    response.status_code = 503
    response.headers["Retry-After"] = str(VIEWER_RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response
