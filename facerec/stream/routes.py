from flask import Response, render_template

from .. import camera
from . import bp

BOUNDARY = "frame"


@bp.get("/")
def live():
    """The live page: the stream, Start/Stop, and who is in view."""
    cam = camera.service()
    return render_template("stream/live.html", status=cam.status())


@bp.get("/stream.mjpg")
def stream():
    """MJPEG: every viewer gets the newest annotated frame, or a placeholder without a camera."""
    frames = camera.service().frames()

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

    response = Response(parts(), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}")
    response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    response.headers["Pragma"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # tell nginx-style proxies not to buffer
    return response
