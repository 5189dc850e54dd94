from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from moderation.checks import faces
from moderation.checks.faces import (
    Face,
    FaceMatch,
    FaceModelsMissing,
    Reference,
    face_distance,
    find_faces,
    match_faces,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "faces"
OBAMA, BIDEN = 1, 2


def open_fixture(name: str) -> Image.Image:
    with Image.open(FIXTURES / f"{name}.jpg") as image:
        image.load()
        return image


@pytest.fixture(scope="module")
def found() -> dict[str, list[Face]]:
    """Faces in every fixture, found once for the module (each run takes a few hundred ms)."""
    names = ["obama", "obama2", "biden", "rose_leslie", "obama_and_biden"]
    return {name: find_faces(open_fixture(name)) for name in names}


@pytest.fixture(scope="module")
def obama_ref(found) -> Reference:
    return Reference(person_id=OBAMA, photo_id=10, embedding=found["obama"][0].embedding)


@pytest.fixture(scope="module")
def biden_ref(found) -> Reference:
    return Reference(person_id=BIDEN, photo_id=20, embedding=found["biden"][0].embedding)


def unit(index: int, scale: float = 1.0) -> tuple[float, ...]:
    """A 128-d embedding with `scale` at `index` and zeros elsewhere, for exact distances."""
    vector = [0.0] * 128
    vector[index] = scale
    return tuple(vector)


def face_with(embedding: tuple[float, ...]) -> Face:
    return Face(box=(0, 0, 10, 10), score=1.0, embedding=embedding)


def test_one_face_per_person_in_single_portraits(found):
    for name in ["obama", "obama2", "biden", "rose_leslie"]:
        assert len(found[name]) == 1, name


def test_two_men_found_in_group_photo_and_shadowed_child_dropped(found):
    # The third, weak detection (score ~0.15) is a child in shadow; DEFAULT_MIN_SCORE drops it.
    group = found["obama_and_biden"]
    assert len(group) == 2
    assert all(face.score >= faces.DEFAULT_MIN_SCORE for face in group)
    weak = find_faces(open_fixture("obama_and_biden"), min_score=0.0)
    assert len(weak) == 3
    assert min(face.score for face in weak) < faces.DEFAULT_MIN_SCORE


def test_embeddings_have_128_floats(found):
    for name, detected in found.items():
        for face in detected:
            assert len(face.embedding) == faces.EMBEDDING_SIZE == 128, name
            assert all(isinstance(x, float) for x in face.embedding)


def test_boxes_lie_inside_the_original_image(found):
    for name, detected in found.items():
        width, height = open_fixture(name).size
        for left, top, w, h in (face.box for face in detected):
            assert w > 0 and h > 0
            assert left >= 0 and left + w <= width, name
            assert top >= 0 and top + h <= height, name


def test_same_person_in_another_photo_matches(found, obama_ref):
    matches = match_faces(found["obama2"], [obama_ref])
    assert len(matches) == 1
    assert matches[0].person_id == OBAMA
    assert matches[0].photo_id == 10
    assert matches[0].distance < 0.6


@pytest.mark.parametrize("name", ["biden", "rose_leslie"])
def test_other_people_do_not_match(found, obama_ref, name):
    assert match_faces(found[name], [obama_ref]) == []
    assert face_distance(found[name][0].embedding, obama_ref.embedding) > 0.6


def test_group_photo_matches_only_obamas_face(found, obama_ref):
    group = found["obama_and_biden"]
    matches = match_faces(group, [obama_ref])
    assert len(matches) == 1
    # Obama stands on the right, Biden on the left.
    obama_face = group[matches[0].face_index]
    biden_face = next(face for face in group if face is not obama_face)
    assert obama_face.box[0] > biden_face.box[0] + biden_face.box[2]


def test_group_photo_matches_each_person_to_a_different_face(found, obama_ref, biden_ref):
    matches = match_faces(found["obama_and_biden"], [obama_ref, biden_ref])
    assert sorted(m.person_id for m in matches) == [OBAMA, BIDEN]
    assert len({m.face_index for m in matches}) == 2


def test_tiny_threshold_matches_nothing(found, obama_ref):
    assert match_faces(found["obama2"], [obama_ref], threshold=0.01) == []


def test_no_face_in_a_gradient():
    gradient = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    assert find_faces(gradient) == []


def test_boxes_are_in_original_coordinates_when_upscaled(found):
    image = open_fixture("obama")
    bigger = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    (face,) = find_faces(bigger)
    small_box = found["obama"][0].box
    for big, small in zip(face.box, small_box, strict=True):
        assert big == pytest.approx(2 * small, rel=0.1, abs=8)


def test_boxes_do_not_depend_on_max_side(found):
    # HOG box sizes come in pyramid steps, so compare centres closely and sizes loosely.
    (face,) = find_faces(open_fixture("obama"), max_side=512)
    left, top, width, height = found["obama"][0].box
    other_left, other_top, other_width, other_height = face.box
    assert other_left + other_width / 2 == pytest.approx(left + width / 2, abs=0.1 * width)
    assert other_top + other_height / 2 == pytest.approx(top + height / 2, abs=0.1 * height)
    assert other_width == pytest.approx(width, rel=0.25)


def test_small_image_is_upsampled_so_small_faces_are_found():
    image = open_fixture("obama_and_biden")
    small = image.resize((512, round(image.height * 512 / image.width)))
    assert len(find_faces(small)) == 2


def test_non_rgb_images_are_accepted():
    image = open_fixture("obama")
    assert len(find_faces(image.convert("L"))) == 1
    assert len(find_faces(image.convert("RGBA"))) == 1


def test_closest_reference_per_person_is_returned():
    references = [
        Reference(person_id=OBAMA, photo_id=11, embedding=unit(0, 0.5)),
        Reference(person_id=OBAMA, photo_id=12, embedding=unit(0, 0.9)),
        Reference(person_id=OBAMA, photo_id=13, embedding=unit(0, 0.7)),
    ]
    matches = match_faces([face_with(unit(0, 1.0))], references)
    assert matches == [
        FaceMatch(face_index=0, person_id=OBAMA, photo_id=12, distance=matches[0].distance)
    ]
    assert matches[0].distance == pytest.approx(0.1)


def test_matches_are_sorted_by_distance_across_faces_and_people():
    references = [
        Reference(person_id=OBAMA, photo_id=11, embedding=unit(0, 0.6)),
        Reference(person_id=BIDEN, photo_id=21, embedding=unit(0, 0.8)),
        Reference(person_id=3, photo_id=31, embedding=unit(1)),
    ]
    found = [face_with(unit(0)), face_with(unit(1, 0.95))]
    matches = match_faces(found, references, threshold=0.45)
    assert [(m.face_index, m.person_id) for m in matches] == [(1, 3), (0, BIDEN), (0, OBAMA)]
    assert [m.distance for m in matches] == pytest.approx([0.05, 0.2, 0.4])


def test_threshold_is_inclusive_and_respected():
    references = [Reference(person_id=OBAMA, photo_id=11, embedding=unit(0, 0.5))]
    face = face_with(unit(0, 1.0))
    assert len(match_faces([face], references, threshold=0.5)) == 1
    assert match_faces([face], references, threshold=0.49) == []


def test_match_faces_with_nothing_to_compare_is_empty(found, obama_ref):
    assert match_faces([], [obama_ref]) == []
    assert match_faces(found["obama"], []) == []


def test_thousands_of_references_pick_the_right_person(found, obama_ref):
    import numpy as np

    rng = np.random.default_rng(0)
    noise = rng.normal(size=(5000, 128))
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)  # unit vectors: ~1.4 from anything
    references = [
        Reference(person_id=100 + i, photo_id=1000 + i, embedding=tuple(row.tolist()))
        for i, row in enumerate(noise)
    ]
    matches = match_faces(found["obama2"], [*references, obama_ref])
    assert [m.person_id for m in matches] == [OBAMA]


def test_face_distance_is_euclidean():
    assert face_distance(unit(0, 3.0), unit(1, 4.0)) == pytest.approx(5.0)
    assert face_distance(unit(0), unit(0)) == 0.0


def test_models_load_once(found):
    first = faces.load_models()
    find_faces(open_fixture("biden"))
    second = faces.load_models()
    assert second is first
    assert second.detector is first.detector


def test_models_load_once_under_concurrent_first_use(monkeypatch):
    monkeypatch.setattr(faces, "_models", None)
    results = []
    barrier = threading.Barrier(4)

    def load():
        barrier.wait()
        results.append(faces.load_models())

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(models is results[0] for models in results)


def test_missing_package_names_it(monkeypatch):
    monkeypatch.setattr(faces, "_models", None)
    monkeypatch.setattr(faces, "MODELS_PACKAGE", "no_such_face_models_package")
    with pytest.raises(FaceModelsMissing, match="no_such_face_models_package"):
        faces.load_models()


def test_missing_weights_file_names_the_package(monkeypatch):
    monkeypatch.setattr(faces, "_models", None)
    monkeypatch.setattr(faces, "ENCODER_FILE", "missing.dat")
    with pytest.raises(FaceModelsMissing, match="face_recognition_models"):
        find_faces(Image.new("RGB", (64, 64)))
