"""What is drawn on the frames viewers receive."""

import numpy as np
import pytest

from facerec.camera import drawing
from facerec.gallery import RecognisedFace


def frame():
    return np.full((360, 640, 3), 128, dtype=np.uint8)


def label_region(image, box):
    _top, _right, bottom, left = box
    return image[bottom : bottom + 30, left : left + 160]


def test_is_a_known_face_boxed_in_green_and_an_unknown_one_in_red():
    faces = [
        RecognisedFace((50, 200, 150, 100), 1, "Ada", 0.3),
        RecognisedFace((50, 500, 150, 400), None, None, 0.8),
    ]
    out = drawing.annotate(frame(), faces)
    assert tuple(out[100, 100]) == drawing.KNOWN  # left edge of the first box
    assert tuple(out[100, 400]) == drawing.UNKNOWN
    assert np.array_equal(frame(), frame())  # the source frame is not drawn on


def test_does_an_accented_name_keep_its_accents():
    box = (50, 300, 150, 100)
    accented = drawing.annotate(frame(), [RecognisedFace(box, 1, "José", 0.3)])
    plain = drawing.annotate(frame(), [RecognisedFace(box, 1, "Jose", 0.3)])
    assert not np.array_equal(label_region(accented, box), label_region(plain, box))


@pytest.mark.parametrize("name", ["王小明", "Владимир", "x" * 100, "<script>"])
def test_is_any_name_drawn_inside_the_frame(name):
    box = (300, 639, 359, 560)  # a face in the bottom-right corner
    out = drawing.annotate(frame(), [RecognisedFace(box, 1, name, 0.3)])
    assert out.shape == (360, 640, 3)
    assert (out != 128).any()


def test_are_names_still_drawn_without_a_system_font(monkeypatch):
    monkeypatch.setattr(drawing, "LABEL_FONTS", ("/nonexistent/font.ttf",))
    drawing._font.cache_clear()
    drawing.label_image.cache_clear()
    try:
        assert drawing._font(16)[1] is False  # Pillow's own font
        latin = drawing.label_image("José", drawing.KNOWN, 16)
        other = drawing.label_image("Владимир", drawing.KNOWN, 16)  # falls back to ASCII
        assert latin.shape[0] > 10 and other.shape[0] > 10
    finally:
        drawing._font.cache_clear()
        drawing.label_image.cache_clear()
