"""What encoding from the main frame costs the face engine, for a camera with a sub-stream.

The clip's frames as an RTSP camera gives them: a 1280x720 main frame and a 320x180
sub-stream frame of the same moment. Each frame is recognised as the engine's worker does it
(``facerec.engine.worker.recognise``, in this process), with the four people of known/ as
the gallery, three ways:
- ``main``: the main frame alone (a camera without a sub-stream);
- ``sub_alone``: the sub-stream frame alone (faces detected and encoded in it);
- ``sub_with_main``: the sub-stream frame with its main frame: faces detected in the small
  frame, looked for again around their place on the main frame and encoded there.
Every face is encoded (whole-frame requests, nothing settled): a new scene, the costliest
request. Prints JSON: engine seconds per request (mean, p50, p95) for each way, the extra
seconds per face that encoding from the main frame costs, the share of faces found again on
the main frame, the worker's copy of the main frame out of shared memory, and the names each
way gave. ``--step N`` takes every Nth frame of the clip (default 3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import cv2
import numpy as np
from common import CLIP, DATA

from facerec import faces
from facerec.camera.tuning import Tuning
from facerec.engine.worker import FrameRequest, recognise
from facerec.gallery import Gallery

MAIN, SUB = (1280, 720), (320, 180)


def known_gallery() -> Gallery:
    photos = sorted((DATA / "known").iterdir())
    encodings = [faces.faces_in_image(photo)[0].encoding for photo in photos]
    ids = list(range(1, len(photos) + 1))
    return Gallery(encodings, ids, {i: photo.stem for i, photo in zip(ids, photos, strict=True)})


def clip_frames(step: int):
    """(main, sub) RGB frames of every ``step``-th frame of the clip."""
    capture = cv2.VideoCapture(str(CLIP))
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            if index % step == 0:
                rgb = bgr[:, :, ::-1]
                main = cv2.resize(rgb, MAIN, interpolation=cv2.INTER_LINEAR)
                sub = cv2.resize(rgb, SUB, interpolation=cv2.INTER_AREA)
                yield main, sub
            index += 1
    finally:
        capture.release()


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "mean": round(statistics.fmean(ordered), 4),
        "p50": round(ordered[len(ordered) // 2], 4),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=3, help="every Nth frame of the clip")
    args = parser.parse_args()
    gallery = known_gallery()
    tuning = Tuning()
    ways = {"main": [], "sub_alone": [], "sub_with_main": []}
    names = {way: {} for way in ways}
    encoded = refound = 0
    extra_per_face = []
    copies = []
    for seq, (main, sub) in enumerate(clip_frames(args.step), start=1):
        request = FrameRequest(seq, tuning)
        bgr = np.ascontiguousarray(main[:, :, ::-1])
        started = time.perf_counter()
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # what the worker does with the main frame sent
        copies.append(time.perf_counter() - started)
        results = {
            "main": recognise(main, request, gallery),
            "sub_alone": recognise(sub, request, gallery),
            "sub_with_main": recognise(sub, request, gallery, main),
        }
        for way, result in results.items():
            ways[way].append(result.seconds)
            for face in result.faces:
                names[way][str(face.name)] = names[way].get(str(face.name), 0) + 1
        both = results["sub_with_main"]
        encoded += both.encoded
        refound += both.refound
        if both.encoded:
            extra = both.seconds - results["sub_alone"].seconds
            extra_per_face.append(extra / both.encoded)
    print(
        json.dumps(
            {
                "frames": len(ways["main"]),
                "engine_seconds_per_request": {way: summary(s) for way, s in ways.items()},
                "extra_seconds_per_face_encoded_from_main": round(
                    statistics.fmean(extra_per_face), 4
                )
                if extra_per_face
                else None,
                "faces_encoded": encoded,
                "found_again_on_main": round(refound / encoded, 3) if encoded else None,
                "main_frame_copy_ms": round(1000 * statistics.fmean(copies), 2),
                "faces_named": names,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
