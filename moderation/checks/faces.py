"""Faces in an image and whose they are: dlib's HOG detector and 128-d face embeddings.

No Django imports. The weights come from the `face_recognition_models` wheel; the
`face_recognition` wrapper is not used. Models load on first use, not at import, so importing
this module (for `match_faces` or the dataclasses) costs nothing and needs no dlib.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

FACES_VERSION = 1  # bump when detection or embeddings change, so stored results are redone

MODELS_PACKAGE = "face_recognition_models"
SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"

# HOG scores (SVM margins) measured on the fixtures at max_side=1024, upsample 0: real faces
# 1.25-2.28 (rose_leslie 1.25, biden 1.38, obama 1.86, obama2 2.28, the two men in
# obama_and_biden 1.48 and 1.32). The only other detection, 0.15, is the girl at the bottom
# right of obama_and_biden: in shadow, looking down, 73 px. An embedding of a face that poor is
# unreliable, so 0.5 drops it while leaving a wide margin under the weakest clear face.
DEFAULT_MIN_SCORE = 0.5
DEFAULT_THRESHOLD = 0.6  # dlib's own same-person cut-off for this encoder (Euclidean)
EMBEDDING_SIZE = 128


class FaceModelsMissing(RuntimeError):
    """dlib or the model weights are not installed."""


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, width, height in the ORIGINAL image's pixels
    score: float
    embedding: tuple[float, ...]  # 128 floats


@dataclass(frozen=True)
class Reference:
    person_id: int
    photo_id: int
    embedding: tuple[float, ...]


@dataclass(frozen=True)
class FaceMatch:
    face_index: int  # index into the faces passed to match_faces
    person_id: int
    photo_id: int  # the reference photo that came closest for this person
    distance: float


@dataclass(frozen=True)
class Models:
    detector: Any
    shape_predictor: Any
    encoder: Any


_models: Models | None = None
_load_lock = threading.Lock()
# dlib documents its HOG scanner (scan_fhog_pyramid) as unsafe for concurrent use, and its
# networks keep per-call state in their layers, so inference is serialised. Celery's prefork
# workers run one task per process, so the lock is uncontended there.
_run_lock = threading.Lock()


def model_paths() -> tuple[Path, Path]:
    """(shape predictor, face encoder) weight files; FaceModelsMissing when either is absent."""
    hint = f"install the `{MODELS_PACKAGE}` package (pip install {MODELS_PACKAGE})"
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelsMissing(f"face model weights not found: {hint}")
    folder = Path(spec.submodule_search_locations[0]) / "models"
    paths = (folder / SHAPE_PREDICTOR_FILE, folder / ENCODER_FILE)
    for path in paths:
        if not path.is_file():
            raise FaceModelsMissing(f"face model file {path} is missing: {hint}")
    return paths


def load_models() -> Models:
    """The detector, landmark predictor and encoder, loaded once per process (thread-safe)."""
    global _models
    if _models is None:
        with _load_lock:
            if _models is None:
                _models = _load()
    return _models


def _load() -> Models:
    shape_path, encoder_path = model_paths()
    try:
        import dlib
    except ImportError as exc:
        raise FaceModelsMissing("dlib is not installed: pip install dlib-bin") from exc
    return Models(
        detector=dlib.get_frontal_face_detector(),
        shape_predictor=dlib.shape_predictor(str(shape_path)),
        encoder=dlib.face_recognition_model_v1(str(encoder_path)),
    )


def _upsample_for(longest: int, max_side: int) -> int:
    """How many times the HOG detector doubles the image before scanning.

    dlib's HOG window is 80 px, so with no upsampling smaller faces are missed. Measured on the
    fixtures (2-core machine): at longest side 1024, upsample 0 finds every real face in
    52-95 ms; upsample 1 finds the same faces (scores 1.29-1.9) in 210-420 ms, 4-5x slower for
    nothing. But at longest side 512, upsample 0 finds neither face in obama_and_biden (53 px
    faces) while upsample 1 finds both, and 512 px with upsample 1 costs the same as 1024 px
    with upsample 0 (57-95 ms). So: upsample only images already no bigger than half of
    max_side, which keeps the cost bounded by max_side² and helps small uploads (512 px
    generations are common) most.
    """
    return 1 if longest * 2 <= max_side else 0


def find_faces(
    image: Image.Image, *, min_score: float = DEFAULT_MIN_SCORE, max_side: int = 1024
) -> list[Face]:
    """Frontal faces in `image` scoring at least `min_score`, in detector order.

    The image is scanned as given: callers wanting the orientation a viewer sees apply
    `ImageOps.exif_transpose` first (boxes are in the coordinates of the image passed in).
    Downscaling to `max_side` bounds time and memory; faces smaller than about
    8% of the longest side of a large image are not found.
    """
    if max_side < 1:
        raise ValueError("max_side must be positive")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    if not width or not height:
        return []
    scale = min(1.0, max_side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    small_width, small_height = rgb.size
    array = np.asarray(rgb)
    upsample = _upsample_for(max(small_width, small_height), max_side)

    models = load_models()
    faces = []
    with _run_lock:
        # Passing min_score as dlib's threshold is the same as running at 0.0 and filtering,
        # but also lets a caller ask for weaker detections with a negative min_score.
        rects, scores, _ = models.detector.run(array, upsample, min_score)
        for rect, score in zip(rects, scores, strict=True):
            if score < min_score:
                continue
            shape = models.shape_predictor(array, rect)
            embedding = models.encoder.compute_face_descriptor(array, shape, 1)
            faces.append(
                Face(
                    box=_original_box(rect, scale, small_width, small_height, width, height),
                    score=float(score),
                    embedding=tuple(float(x) for x in embedding),
                )
            )
    return faces


def _original_box(
    rect: Any, scale: float, small_width: int, small_height: int, width: int, height: int
) -> tuple[int, int, int, int]:
    # dlib boxes may run past the edge for faces at the border; clip so crops are valid.
    left = max(0, rect.left())
    top = max(0, rect.top())
    right = min(small_width, rect.right() + 1)  # dlib's right/bottom are inclusive
    bottom = min(small_height, rect.bottom() + 1)
    left_o = min(width, round(left / scale))
    top_o = min(height, round(top / scale))
    right_o = min(width, round(right / scale))
    bottom_o = min(height, round(bottom / scale))
    return (left_o, top_o, max(0, right_o - left_o), max(0, bottom_o - top_o))


def face_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between two embeddings; below 0.6 is usually the same person."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def match_faces(
    faces: Sequence[Face],
    references: Sequence[Reference],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[FaceMatch]:
    """For each face, the closest reference of each person within `threshold`, nearest first.

    A face may match several people (look-alikes) and a person several faces; callers decide
    what that means. Distances for all pairs come from one matrix product, so thousands of
    references cost milliseconds; building the reference matrix dominates (about 50 ms for
    10,000 references).
    """
    if not faces or not references:
        return []
    found = np.asarray([face.embedding for face in faces], dtype=np.float64)
    known = np.asarray([ref.embedding for ref in references], dtype=np.float64)
    # |a - b|² = |a|² + |b|² - 2a·b: a (faces x references) matrix, never faces x refs x 128.
    squared = (
        np.einsum("ij,ij->i", found, found)[:, None]
        + np.einsum("ij,ij->i", known, known)[None, :]
        - 2.0 * found @ known.T
    )
    distances = np.sqrt(np.clip(squared, 0.0, None))

    face_idx, ref_idx = np.nonzero(distances <= threshold)
    best: dict[tuple[int, int], FaceMatch] = {}
    for f, r in zip(face_idx.tolist(), ref_idx.tolist(), strict=True):
        ref = references[r]
        distance = float(distances[f, r])
        key = (f, ref.person_id)
        if key not in best or distance < best[key].distance:
            best[key] = FaceMatch(
                face_index=f, person_id=ref.person_id, photo_id=ref.photo_id, distance=distance
            )
    return sorted(best.values(), key=lambda m: (m.distance, m.face_index, m.person_id))
