"""Faces in images: load and validate images, detect, encode, check sample quality.

The only module that calls ``face_recognition``. Its heavy functions (detection with
upsampling, and above all encoding, which holds the GIL) run in worker processes:
see ``facerec.engine`` (camera frames and one-off jobs alike).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .boxes import overlap_of_smaller

DEFAULT_MAX_PIXELS = 40_000_000
# Photos are looked at for faces at most this wide (detection is dlib's HOG; a face of a
# sample is encoded from an aligned 150-pixel chip, so more width adds nothing but time).
PHOTO_WIDTH = 1600
# The most pixels detection looks at for one photo, upsampling (x4 per step) included.
DEFAULT_PIXEL_BUDGET = 8_000_000
MIN_FACE_HEIGHT = 80
# Variance of the Laplacian over the face, scaled to a fixed height. Sharp photos and
# webcam frames score in the hundreds; motion blur and out-of-focus faces fall under this.
MIN_SHARPNESS = 25.0
# Quality.turn above which a face is too far from looking at the camera to be worth keeping:
# turned by more than about 35 degrees (see turn()).
MAX_TURN = 0.35
THUMBNAIL_SIZE = 112
# What load_image() reads, as every page and message names it.
PHOTO_FORMATS = "JPEG, PNG, WebP, BMP, GIF or TIFF"

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)


class ImageError(ValueError):
    """The data is not an image we can use (not decodable, empty, too large)."""


def sentence(message: str) -> str:
    """Engine messages are written for logs ("the file is empty"); make them a sentence."""
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


class FaceRejected(ValueError):
    """The image is fine but its faces do not make a usable sample."""

    reason = "unusable face"


class NoFace(FaceRejected):
    reason = "no face"


class SeveralFaces(FaceRejected):
    reason = "several faces"


class FaceTooSmall(FaceRejected):
    reason = "face too small"


class FaceBlurred(FaceRejected):
    reason = "face blurred"


class FaceTurned(FaceRejected):
    reason = "face turned away"


@dataclass(frozen=True)
class Quality:
    """How usable a face is as a sample or a group member, measured where it was found.

    ``height``: the face box's height in the picture's pixels; ``sharpness``: see
    ``sharpness()``; ``turn``: how far the head is turned sideways (``turn()``): 0 for a face
    looking at the camera, 0.43 at 45 degrees (None when no landmarks were computed).
    """

    height: int
    sharpness: float
    turn: float | None = None

    @property
    def score(self) -> float:
        """One number to pick the best of several pictures of a face (a track's, for its
        sighting): the larger, sharper and more frontal, the higher."""
        sharp = min(1.0, self.sharpness / (4 * MIN_SHARPNESS))
        frontal = 0.5 if self.turn is None else max(0.0, 1.0 - self.turn / (2 * MAX_TURN))
        return self.height * (0.5 + 0.5 * sharp) * (0.5 + 0.5 * frontal)


@dataclass(frozen=True)
class Gate:
    """The least a face must show: ``problems()`` lists, in words, what it lacks."""

    min_height: int = MIN_FACE_HEIGHT
    min_sharpness: float = MIN_SHARPNESS
    max_turn: float = MAX_TURN

    def problems(self, quality: Quality) -> list[str]:
        found = []
        if quality.height < self.min_height:
            found.append(f"too small: {quality.height} px (at least {self.min_height})")
        if quality.sharpness < self.min_sharpness:
            found.append(
                f"blurred: sharpness {quality.sharpness:.0f} (at least {self.min_sharpness:.0f})"
            )
        if quality.turn is not None and quality.turn > self.max_turn:
            found.append("turned away: not facing the camera")
        return found

    def passes(self, quality: Quality | None) -> bool:
        return quality is None or not self.problems(quality)


# What a face must show to become a sample (every path: the wizard, the API, the importer,
# a sighting's crop), and, a little less, to join or seed an unknown group: a face of 40 px
# still groups well, one of 20 px is a smear.
SAMPLE_GATE = Gate()
MIN_GROUP_FACE_HEIGHT = 40
MEMBER_GATE = Gate(min_height=MIN_GROUP_FACE_HEIGHT)


@dataclass(frozen=True)
class Face:
    box: Box
    encoding: np.ndarray
    quality: Quality | None = None


@dataclass(frozen=True)
class Sample:
    """A face that passed the enrollment checks: the one sample type from upload to save.

    ``content_hash`` is the photo's ``photo_hash()`` (None for a camera frame), so that the
    same file sent twice is recognised. Stored rows (a draft's, a person's) convert to and
    from it at the edges: ``people.sample_row()`` and ``people.as_sample()``.
    """

    encoding: np.ndarray
    thumbnail: bytes
    content_hash: str | None = None


class _LoadedOnFirstUse:
    """A dlib shape predictor that reads its model file the first time it is called."""

    def __init__(self, load, path: str):
        self._load, self._path, self._model = load, path, None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def __call__(self, *args, **kwargs):
        if self._model is None:
            self._model = self._load(self._path)
        return self._model(*args, **kwargs)


def load_models():
    """The ``face_recognition`` module with the dlib models facerec uses loaded (once).

    Imported lazily because only worker processes need it; they call this at start-up so
    that the first face is not slowed down by the load.

    ``face_recognition`` loads every model it has as it is imported, among them the 68-point
    landmark model (a 100 MB file: three quarters of a second and 100 MB of memory in each
    worker), which facerec never uses: faces are aligned on the 5-point model. That one is
    read only if something calls it (``face_recognition.face_landmarks`` would).
    """
    import sys

    if "face_recognition" not in sys.modules:
        import dlib

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import face_recognition_models
        large = face_recognition_models.pose_predictor_model_location()
        real = dlib.shape_predictor

        def shape_predictor(path):
            return _LoadedOnFirstUse(real, path) if path == large else real(path)

        dlib.shape_predictor = shape_predictor
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import face_recognition
        finally:
            dlib.shape_predictor = real
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition
    # face_recognition turns on PIL's LOAD_TRUNCATED_IMAGES when imported; a damaged upload
    # must be refused, not half-decoded into grey pixels.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return face_recognition


def photo_hash(data: bytes) -> str:
    """The SHA-256 of a photo's bytes: how every path recognises the same file sent again."""
    return hashlib.sha256(data).hexdigest()


def load_image(
    source: bytes | str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, max_width: int | None = None
) -> np.ndarray:
    """Decode ``source`` (bytes or a path) into an RGB uint8 array, EXIF rotation applied.

    Raises ImageError for anything that is not a decodable image or is over ``max_pixels``;
    the size is checked from the header, before any pixel is decoded. With ``max_width`` a
    wider image comes back reduced (``decode_reduced``).
    """
    return decode_reduced(source, max_pixels, max_width)[0]


def decode_reduced(
    source: bytes | str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, max_width: int | None = None
) -> tuple[np.ndarray, float]:
    """``(rgb, scale)``: the image decoded no wider than needed, and by how much it shrank.

    Beyond ``max_width`` a JPEG is decoded at 1/2, 1/4 or 1/8 of its size by the decoder
    itself (Pillow's ``draft``: the cost of a 40-megapixel photo becomes that of a
    2-megapixel one); any other format is reduced right after decoding (``reduce``), so what
    follows works on the small copy. ``scale`` is the full width over the returned width (1.0
    when nothing was reduced): multiply a box found in ``rgb`` by it to place it in the photo.
    """
    data = _read(source)
    if not data:
        raise ImageError("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"the image is too large ({width}x{height} pixels; "
                    f"the limit is {max_pixels / 1e6:g} megapixels)"
                )
            upright_width = height if _turned_sideways(image) else width
            if max_width and upright_width > max_width:
                # Asks for at least max_width upright: draft keeps each side at least this.
                factor = upright_width / max_width
                image.draft("RGB", (int(width / factor), int(height / factor)))
            image.load()
            image = ImageOps.exif_transpose(image)
            if max_width and image.width >= 2 * max_width:
                image = image.reduce(image.width // max_width)
            if image.mode != "RGB":
                image = _to_rgb(image)
            array = np.asarray(image, dtype=np.uint8)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"the image is too large (the limit is {max_pixels / 1e6:g} megapixels)"
        ) from None
    except UnidentifiedImageError:
        raise ImageError("the file is not an image in a format facerec reads") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image is damaged or truncated ({exc})") from None
    if array.ndim != 3 or min(array.shape[:2]) < 1:
        raise ImageError("the image has no pixels")
    return np.ascontiguousarray(array), upright_width / array.shape[1]


def _turned_sideways(image: Image.Image) -> bool:
    """The EXIF orientation turns the picture a quarter (its width is its stored height)."""
    try:
        return image.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # a damaged EXIF block: the decoder says what is wrong, if anything
        return False


def photo_upsample(rgb: np.ndarray, pixel_budget: int = DEFAULT_PIXEL_BUDGET) -> int | None:
    """How to look for faces in a photo within the pixel budget: ``None`` (as it is, then
    upsampled once if that finds nothing) when the upsampled copy fits, else 0 (as it is)."""
    height, width = rgb.shape[:2]
    if width > PHOTO_WIDTH:
        height, width = round(height * PHOTO_WIDTH / width), PHOTO_WIDTH
    return None if 4 * width * height <= pixel_budget else 0


def _read(source: bytes | str | Path) -> bytes:
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read the file: {exc.strerror or exc}") from None
    return bytes(source)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white and convert any mode (L, P, CMYK, I;16...) to RGB."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    if image.mode.startswith("I;16") or image.mode == "I":
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def detect(rgb: np.ndarray, upsample: int | None = 1, max_width: int | None = None) -> list[Box]:
    """Face boxes in ``rgb`` (dlib HOG). With ``max_width``, detect on a downscaled copy.

    ``upsample=None`` is the setting for photos: look at the image as it is first (faces
    down to about 40 px high, four times faster), and upsample once only if that finds
    nothing. On every shared test photo it finds the same faces as upsampling always.
    """
    if upsample is None:
        return detect(rgb, 0, max_width) or detect(rgb, 1, max_width)
    fr = load_models()
    scale = 1.0
    image = rgb
    if max_width and rgb.shape[1] > max_width:
        scale = max_width / rgb.shape[1]
        image = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes = fr.face_locations(image, number_of_times_to_upsample=upsample, model="hog")
    if scale != 1.0:
        height, width = rgb.shape[:2]
        boxes = [
            (
                max(0, round(t / scale)),
                min(width, round(r / scale)),
                min(height, round(b / scale)),
                max(0, round(left / scale)),
            )
            for t, r, b, left in boxes
        ]
    return [tuple(int(v) for v in box) for box in boxes]


def detect_in(
    rgb: np.ndarray, regions, upsample: int = 1, max_width: int | None = None
) -> list[Box]:
    """Face boxes (in ``rgb``'s pixels) found inside ``regions`` alone.

    Each region is looked at on the same scale as ``detect(rgb, upsample, max_width)`` looks at
    the whole picture, so the same faces are found there for a fraction of the work. A face
    that two regions share is returned once.
    """
    fr = load_models()
    height, width = rgb.shape[:2]
    scale = max_width / width if max_width and width > max_width else 1.0
    found: list[Box] = []
    for region in regions:
        top, right, bottom, left = (round(v) for v in region)
        top, left = max(0, top), max(0, left)
        bottom, right = min(height, bottom), min(width, right)
        if bottom - top < 16 or right - left < 16:
            continue
        crop = rgb[top:bottom, left:right]
        if scale != 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for t, r, b, lft in fr.face_locations(crop, number_of_times_to_upsample=upsample):
            box = (
                max(0, round(t / scale) + top),
                min(width, round(r / scale) + left),
                min(height, round(b / scale) + top),
                max(0, round(lft / scale) + left),
            )
            if not any(overlap_of_smaller(box, other) > 0.5 for other in found):
                found.append(box)
    return found


def encode(rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """The 128-d encoding of each face box, in the same order. Holds the GIL: run it in a worker."""
    return [face.encoding for face in measure(rgb, boxes)]


def measure(rgb: np.ndarray, boxes: list[Box]) -> list[Face]:
    """Each face box encoded and measured (``Quality``), in the same order.

    The five landmarks dlib finds to align a face before encoding it (what
    ``face_recognition.face_encodings`` does inside) are found once here and used for both,
    so the pose costs nothing extra.
    """
    if not boxes:
        return []
    fr = load_models()
    rects = [fr.api._css_to_rect(box) for box in boxes]
    shapes = [fr.api.pose_predictor_5_point(rgb, rect) for rect in rects]
    found = []
    for box, shape in zip(boxes, shapes, strict=True):
        encoding = np.asarray(fr.api.face_encoder.compute_face_descriptor(rgb, shape, 1))
        points = np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)
        quality = Quality(int(box[2] - box[0]), round(sharpness(rgb, box), 1), turn(points))
        found.append(Face(box, encoding.astype(np.float64), quality))
    return found


def turn(points: np.ndarray) -> float | None:
    """How far a head is turned sideways, from dlib's five landmarks (two corners of each eye,
    then the base of the nose).

    Seen from the front, the base of the nose is as far from one eye as from the other; as the
    head turns, it comes closer to one of them. The difference of the two distances over the
    distance between the eyes is 0 facing the camera, about 0.3 at 30 degrees, 0.43 at 45 and
    0.53 at 60 (for a nose standing out by half the distance between the eyes); distances do
    not change when the head is only tilted.
    """
    if points.shape != (5, 2):
        return None
    one, other, nose = points[0:2].mean(axis=0), points[2:4].mean(axis=0), points[4]
    apart = np.linalg.norm(other - one)
    if apart == 0:
        return None
    near, far = np.linalg.norm(nose - one), np.linalg.norm(nose - other)
    return round(float(abs(near - far) / apart), 3)


def analyze(rgb: np.ndarray, upsample: int | None = 1, max_width: int | None = None) -> list[Face]:
    """Every face in the image with its encoding and quality, largest first."""
    boxes = detect(rgb, upsample=upsample, max_width=max_width)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[1] - b[3]), reverse=True)
    return measure(rgb, boxes)


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian over the face, scaled to a 128 px high crop."""
    top, right, bottom, left = box
    crop = rgb[max(0, top) : bottom, max(0, left) : right]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    scale = 128 / gray.shape[0]
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def thumbnail(rgb: np.ndarray, box: Box, size: int = THUMBNAIL_SIZE) -> bytes:
    """A square JPEG of the face with some margin around it."""
    top, right, bottom, left = box
    height, width = rgb.shape[:2]
    side = int(max(bottom - top, right - left) * 1.5)
    cy, cx = (top + bottom) // 2, (left + right) // 2
    y0, x0 = max(0, cy - side // 2), max(0, cx - side // 2)
    y1, x1 = min(height, y0 + side), min(width, x0 + side)
    crop = rgb[y0:y1, x0:x1]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return to_jpeg(crop, quality=85)


def crop(rgb: np.ndarray, box: Box, max_side: int = 200, margin: float = 0.2) -> bytes:
    """A JPEG of the face with ``margin`` (a fraction of its size) around it, at most
    ``max_side`` pixels on its longer side (a sighting's picture)."""
    top, right, bottom, left = (round(v) for v in box)
    height, width = rgb.shape[:2]
    dy, dx = int((bottom - top) * margin), int((right - left) * margin)
    y0, y1 = max(0, top - dy), min(height, bottom + dy)
    x0, x1 = max(0, left - dx), min(width, right + dx)
    if y1 <= y0 or x1 <= x0:
        raise ImageError("the face is outside the picture")
    face = rgb[y0:y1, x0:x1]
    scale = max_side / max(face.shape[:2])
    if scale < 1:
        face = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return to_jpeg(face, quality=85)


def smaller_jpeg(jpeg: bytes, max_side: int, quality: int = 80) -> bytes:
    """``jpeg`` at most ``max_side`` pixels on its longer side (a thumbnail for a message)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError("the picture is not a JPEG that can be read")
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("could not encode a JPEG")
    return buf.tobytes()


def to_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ImageError("could not encode a JPEG")
    return buf.tobytes()


def single_face_sample(
    rgb: np.ndarray,
    min_height: int = MIN_FACE_HEIGHT,
    min_sharpness: float = MIN_SHARPNESS,
    upsample: int | None = None,
    max_turn: float = MAX_TURN,
    scale: float = 1.0,
) -> Sample:
    """Check that ``rgb`` holds exactly one usable face and return it as a Sample.

    Raises a FaceRejected subclass whose message an operator can act on. ``scale``: ``rgb``
    is the photo reduced this many times (``decode_reduced``); sizes are said in the
    photo's own pixels.
    """
    boxes = detect(rgb, upsample=upsample, max_width=PHOTO_WIDTH)
    if not boxes:
        raise NoFace("No face was found. Face the camera, with the face well lit and unobstructed.")
    if len(boxes) > 1:
        raise SeveralFaces(
            f"{len(boxes)} faces were found. Only the person being enrolled may be in the picture."
        )
    box = boxes[0]
    height = round((box[2] - box[0]) * scale)
    if height < min_height:
        raise FaceTooSmall(
            f"The face is too small ({height} px high; at least {min_height} px is needed). "
            "Move closer to the camera or use a larger photo."
        )
    score = sharpness(rgb, box)
    if score < min_sharpness:
        raise FaceBlurred(
            f"The face is blurred (sharpness {score:.0f}, at least {min_sharpness:.0f} needed). "
            "Hold still and make sure the camera is in focus."
        )
    (face,) = measure(rgb, [box])
    if face.quality.turn is not None and face.quality.turn > max_turn:
        raise FaceTurned(
            "The face is turned away from the camera. Look at the camera, or use a photo in "
            "which the face looks towards it."
        )
    return Sample(encoding=face.encoding, thumbnail=thumbnail(rgb, box))


def sample_from_image(
    data: bytes | str | Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    pixel_budget: int = DEFAULT_PIXEL_BUDGET,
    **checks,
) -> Sample:
    """The photo decoded at the size faces are looked for at (``decode_reduced``), then
    single_face_sample() within the pixel budget: what an uploaded or imported photo goes
    through. The sample carries the photo's hash.
    """
    data = _read(data)
    rgb, scale = decode_reduced(data, max_pixels, PHOTO_WIDTH)
    checks.setdefault("upsample", photo_upsample(rgb, pixel_budget))
    sample = single_face_sample(rgb, scale=scale, **checks)
    return replace(sample, content_hash=photo_hash(data))


def faces_in_image(
    data: bytes | str | Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    upsample: int | None = None,
    pixel_budget: int = DEFAULT_PIXEL_BUDGET,
) -> list[Face]:
    """Every face of a photo, for recognition requests: decoded at the size faces are looked
    for at, looked at within the pixel budget; boxes (and face heights) in the photo's own
    pixels."""
    rgb, scale = decode_reduced(data, max_pixels, PHOTO_WIDTH)
    if upsample is None:
        upsample = photo_upsample(rgb, pixel_budget)
    found = analyze(rgb, upsample=upsample, max_width=PHOTO_WIDTH)
    if scale == 1.0:
        return found
    return [_scaled(face, scale) for face in found]


def _scaled(face: Face, scale: float) -> Face:
    top, right, bottom, left = face.box
    box = (round(top * scale), round(right * scale), round(bottom * scale), round(left * scale))
    quality = face.quality
    if quality is not None:
        quality = replace(quality, height=round(quality.height * scale))
    return replace(face, box=box, quality=quality)
