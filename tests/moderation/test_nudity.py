"""NSFW rating: nudenet detections, prompt words, and how the two combine. No database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from models_hub.formats.images import parse_a1111_parameters
from moderation.checks import nudity
from moderation.checks.findings import Finding, Level, RuleCode, Severity
from moderation.checks.nudity import (
    IGNORED_LABELS,
    IMAGE_RULES,
    MINOR_TERMS,
    NEUTRAL_TERMS,
    PROMPT_TEXT_CAP,
    SEXUAL_TERMS,
    Detection,
    ImageRating,
    PromptRating,
    combine,
    detect,
    prompt_text,
    rate_detections,
    rate_prompt,
)

FACES = Path(__file__).parents[1] / "fixtures" / "faces"
REPO = Path(__file__).parents[2]
BOX = (10, 10, 50, 50)


def _d(label: str, score: float, box: tuple[int, int, int, int] = BOX) -> Detection:
    return Detection(label=label, score=score, box=box)


# --- rate_detections: the rules table ----------------------------------------------------

# Written out here rather than read from IMAGE_RULES, so a changed table fails a test.
RULE_ROWS = [
    ("FEMALE_GENITALIA_EXPOSED", 0.5, Level.X),
    ("MALE_GENITALIA_EXPOSED", 0.5, Level.X),
    ("ANUS_EXPOSED", 0.5, Level.X),
    ("FEMALE_BREAST_EXPOSED", 0.5, Level.R),
    ("BUTTOCKS_EXPOSED", 0.5, Level.R),
    ("FEMALE_BREAST_COVERED", 0.5, Level.PG13),
    ("FEMALE_GENITALIA_COVERED", 0.5, Level.PG13),
    ("BUTTOCKS_COVERED", 0.5, Level.PG13),
    ("ANUS_COVERED", 0.5, Level.PG13),
    ("BELLY_EXPOSED", 0.6, Level.PG13),
]


def test_rules_table_is_exactly_the_documented_rows():
    assert {label: (rule.min_score, rule.level) for label, rule in IMAGE_RULES.items()} == {
        label: (threshold, level) for label, threshold, level in RULE_ROWS
    }


def test_every_nudenet_label_is_either_ruled_or_ignored():
    from nudenet import nudenet as nudenet_module

    labels = set(vars(nudenet_module)["__labels"])
    assert len(labels) == 18
    assert labels == set(IMAGE_RULES) | IGNORED_LABELS
    assert not set(IMAGE_RULES) & IGNORED_LABELS


@pytest.mark.parametrize(("label", "threshold", "level"), RULE_ROWS)
def test_rule_fires_at_its_threshold(label, threshold, level):
    rating = rate_detections([_d(label, threshold)])
    assert rating.level == level
    assert len(rating.reasons) == 1
    assert f"(score {threshold:.2f})" in rating.reasons[0]


@pytest.mark.parametrize(("label", "threshold", "level"), RULE_ROWS)
def test_rule_is_ignored_just_below_its_threshold(label, threshold, level):
    rating = rate_detections([_d(label, threshold - 0.001)])
    assert rating == ImageRating(level=Level.PG, reasons=())


@pytest.mark.parametrize("label", sorted(IGNORED_LABELS))
def test_faces_feet_armpits_and_male_chest_never_raise_the_level(label):
    assert rate_detections([_d(label, 0.99)]).level == Level.PG


def test_no_detections_is_pg():
    assert rate_detections([]) == ImageRating(level=Level.PG, reasons=())


def test_unknown_label_is_ignored():
    assert rate_detections([_d("SOMETHING_NEW", 0.99)]).level == Level.PG


def test_reason_names_the_part_and_score():
    rating = rate_detections([_d("BUTTOCKS_EXPOSED", 0.72)])
    assert rating.reasons == ("exposed buttocks (score 0.72)",)


def test_highest_rule_wins_and_reasons_list_every_rule_highest_first():
    rating = rate_detections(
        [
            _d("BELLY_EXPOSED", 0.9),
            _d("FEMALE_BREAST_EXPOSED", 0.8),
            _d("FACE_FEMALE", 0.95),
        ]
    )
    assert rating.level == Level.R
    assert rating.reasons == (
        "exposed female breast (score 0.80)",
        "exposed belly (score 0.90)",
    )


def test_repeated_label_gives_one_reason_with_the_best_score():
    rating = rate_detections(
        [_d("FEMALE_BREAST_EXPOSED", 0.61), _d("FEMALE_BREAST_EXPOSED", 0.83, (300, 10, 50, 50))]
    )
    assert rating.level == Level.R
    assert rating.reasons == ("exposed female breast (score 0.83)",)


def test_male_and_female_genitals_together_are_xxx():
    rating = rate_detections(
        [
            _d("MALE_GENITALIA_EXPOSED", 0.5),
            _d("FEMALE_GENITALIA_EXPOSED", 0.5, (100, 100, 40, 40)),
        ]
    )
    assert rating.level == Level.XXX
    assert "a sexual act is likely" in rating.reasons[0]
    assert "2 exposed genital or anal areas" in rating.reasons[0]


def test_two_boxes_of_the_same_exposed_genital_label_are_xxx():
    rating = rate_detections(
        [
            _d("FEMALE_GENITALIA_EXPOSED", 0.7),
            _d("FEMALE_GENITALIA_EXPOSED", 0.6, (300, 300, 40, 40)),
        ]
    )
    assert rating.level == Level.XXX


def test_genitals_with_a_second_one_just_below_threshold_stay_x():
    rating = rate_detections(
        [
            _d("MALE_GENITALIA_EXPOSED", 0.9),
            _d("FEMALE_GENITALIA_EXPOSED", 0.499, (100, 100, 40, 40)),
        ]
    )
    assert rating.level == Level.X
    assert rating.reasons == ("exposed male genitalia (score 0.90)",)


def test_a_single_exposed_genital_is_x_not_xxx():
    assert rate_detections([_d("ANUS_EXPOSED", 0.95)]).level == Level.X


def test_coffee_false_positive_buttocks_0_296_is_pg():
    # Measured: nudenet on skimage's coffee() returns BUTTOCKS_EXPOSED 0.296.
    assert rate_detections([_d("BUTTOCKS_EXPOSED", 0.296)]).level == Level.PG


def test_clothed_portrait_covered_breast_0_38_is_pg():
    # Measured: nudenet on the Rose Leslie portrait returns FEMALE_BREAST_COVERED 0.38.
    detections = [_d("FACE_FEMALE", 0.877), _d("FEMALE_BREAST_COVERED", 0.38)]
    assert rate_detections(detections) == ImageRating(level=Level.PG, reasons=())


def test_rate_detections_accepts_any_iterable():
    assert rate_detections(iter([_d("BUTTOCKS_EXPOSED", 0.9)])).level == Level.R


# --- rate_prompt -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level", "terms"),
    [
        ("a cat on a sofa, golden hour", Level.PG, ()),
        ("sexy pose, beach", Level.PG13, ("sexy",)),
        ("woman in lingerie", Level.PG13, ("lingerie",)),
        ("nsfw, portrait", Level.R, ("nsfw",)),
        ("nude woman", Level.R, ("nude",)),
        ("topless, nipples", Level.R, ("topless", "nipples")),
        ("pussy", Level.X, ("pussy",)),
        ("erect penis", Level.X, ("penis",)),
        ("sex on a bed", Level.XXX, ("sex",)),
        ("blowjob", Level.XXX, ("blowjob",)),
        ("blow-job", Level.XXX, ("blow job",)),
        ("nsfw, nude, sex, nude", Level.XXX, ("nsfw", "nude", "sex")),
    ],
)
def test_english_sexual_terms(text, level, terms):
    rating = rate_prompt(text)
    assert rating.level == level
    assert rating.sexual_terms == terms
    assert rating.minor_terms == ()


@pytest.mark.parametrize(
    ("text", "level", "terms"),
    [
        ("水着の女性", Level.PG13, ("水着",)),
        ("ヌード、海辺", Level.R, ("ヌード",)),
        ("全裸の女性", Level.R, ("全裸",)),
        ("乳首", Level.R, ("乳首",)),
        ("性器", Level.X, ("性器",)),
        ("おまんこ", Level.X, ("おまんこ",)),
        ("セックス", Level.XXX, ("セックス",)),
        ("性交、中出し", Level.XXX, ("性交", "中出し")),
        ("フェラ", Level.XXX, ("フェラ",)),
    ],
)
def test_japanese_sexual_terms(text, level, terms):
    rating = rate_prompt(text)
    assert rating.level == level
    assert rating.sexual_terms == terms


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("a child in a park", ("child",)),
        ("kids playing", ("kids",)),
        ("loli", ("loli",)),
        ("shotacon", ("shotacon",)),
        ("underage", ("underage",)),
        ("a minor", ("minor",)),
        ("schoolgirl", ("schoolgirl",)),
        ("elementary school student", ("elementary school",)),
        ("elementary_school", ("elementary school",)),
        ("ロリ", ("ロリ",)),
        ("ロリコン", ("ロリコン",)),
        ("ショタ", ("ショタ",)),
        ("幼女", ("幼女",)),
        ("子供", ("子供",)),
        ("女子小学生", ("女子小学生",)),
        ("中学生", ("中学生",)),
        ("12yo", ("12 years old",)),
        ("a 12-year-old", ("12 years old",)),
        ("9 years old", ("9 years old",)),
        ("１２歳", ("12 years old",)),
        ("aged 7", ("7 years old",)),
    ],
)
def test_minor_terms_en_and_ja(text, minor):
    assert rate_prompt(text).minor_terms == minor


@pytest.mark.parametrize("text", ["18yo", "25 years old", "a 100 years old tree", "20歳", "yoga"])
def test_adult_ages_are_not_minor_terms(text):
    assert rate_prompt(text).minor_terms == ()


def test_full_width_latin_is_normalised():
    rating = rate_prompt("ＮＳＦＷ, Ｎｕｄｅ")
    assert rating.sexual_terms == ("nsfw", "nude")
    assert rating.level == Level.R


def test_half_width_katakana_is_normalised():
    rating = rate_prompt("ﾛﾘ, ｾｯｸｽ")
    assert rating.minor_terms == ("ロリ",)
    assert rating.sexual_terms == ("セックス",)
    assert rating.level == Level.XXX


def test_case_is_ignored():
    assert rate_prompt("NSFW, Loli").minor_terms == ("loli",)
    assert rate_prompt("NSFW, Loli").sexual_terms == ("nsfw",)


@pytest.mark.parametrize(
    ("text", "sexual", "minor"),
    [
        ("(nude:1.3)", ("nude",), ()),
        ("[child]", (), ("child",)),
        ("((nsfw))", ("nsfw",), ()),
        ("{loli}, (((sex:1.4)))", ("sex",), ("loli",)),
        (r"\(nude\), masterpiece", ("nude",), ()),
        ("<lora:loli_style:0.8>", (), ("loli",)),
        ("1girl, solo, nsfw", ("nsfw",), ()),
    ],
)
def test_attention_syntax_does_not_hide_terms(text, sexual, minor):
    rating = rate_prompt(text)
    assert rating.sexual_terms == sexual
    assert rating.minor_terms == minor


@pytest.mark.parametrize(
    "text",
    [
        "Essex countryside",
        "Sussex, unisex jacket",
        "kidney beans",
        "skids on the road",
        "childhood memories",
        "minority report",
        "lolita dress",
        "nude lipstick, nude color heels",
        "minor details, minor key",
        "naked eye",
        "cumulus clouds",
        "rapeseed field",
    ],
)
def test_word_boundaries_and_neutral_phrases(text):
    assert rate_prompt(text) == PromptRating(level=Level.PG, sexual_terms=(), minor_terms=())


def test_sexy_is_not_sex():
    rating = rate_prompt("sexy")
    assert rating.sexual_terms == ("sexy",)
    assert rating.level == Level.PG13


@pytest.mark.parametrize(
    "text",
    [
        "ゴスロリ",  # gothic lolita fashion
        "カロリー",  # calorie
        "フロリダ",  # Florida
        "ロリポップ",  # lollipop
        "ユニセックス",  # unisex
        "フェラーリ",  # Ferrari
        "ヌードル",  # noodle
        "裸足",  # barefoot
        "赤裸々",
    ],
)
def test_japanese_words_that_merely_contain_a_term_do_not_match(text):
    assert rate_prompt(text) == PromptRating(level=Level.PG, sexual_terms=(), minor_terms=())


def test_katakana_compound_of_two_terms_matches_both():
    rating = rate_prompt("ロリセックス")
    assert rating.minor_terms == ("ロリ",)
    assert rating.sexual_terms == ("セックス",)


def test_japanese_terms_match_inside_a_sentence():
    rating = rate_prompt("公園で遊ぶ子供たちと全裸の大人")
    assert rating.minor_terms == ("子供",)
    assert rating.sexual_terms == ("全裸",)


def test_invisible_characters_do_not_split_a_term():
    assert rate_prompt("lo\u200bli, nu\u00adde").minor_terms == ("loli",)
    assert rate_prompt("lo\u200bli, nu\u00adde").sexual_terms == ("nude",)


def test_terms_are_deduplicated_in_first_seen_order():
    rating = rate_prompt("child, nude, loli, CHILD, nsfw, nude, (loli:1.2)")
    assert rating.minor_terms == ("child", "loli")
    assert rating.sexual_terms == ("nude", "nsfw")
    assert rating.level == Level.R


def test_non_string_prompt_is_pg():
    assert rate_prompt(None).level == Level.PG  # type: ignore[arg-type]


def test_term_lists_are_normalised_and_disjoint():
    sexual, minor, neutral = set(SEXUAL_TERMS), set(MINOR_TERMS), set(NEUTRAL_TERMS)
    assert not sexual & minor and not sexual & neutral and not minor & neutral
    for term in sexual | minor | neutral:
        assert nudity._normalise(term) == term, term


@pytest.mark.parametrize("term", sorted(SEXUAL_TERMS))
def test_every_sexual_term_matches_itself(term):
    rating = rate_prompt(f"photo, {term}, masterpiece")
    assert rating.sexual_terms == (term,)
    assert rating.level == SEXUAL_TERMS[term]


@pytest.mark.parametrize("term", sorted(MINOR_TERMS))
def test_every_minor_term_matches_itself(term):
    assert rate_prompt(f"photo, {term}, masterpiece").minor_terms == (term,)


@pytest.mark.parametrize("term", sorted(NEUTRAL_TERMS))
def test_neutral_phrases_match_nothing(term):
    assert rate_prompt(term).level == Level.PG
    assert rate_prompt(term).minor_terms == ()


def test_long_prompt_is_rated_quickly():
    text = "masterpiece, best quality, " * 10_000
    start = time.perf_counter()
    assert rate_prompt(text + "nsfw").level == Level.PG  # past the cap: not read
    assert time.perf_counter() - start < 2


# --- prompt_text -----------------------------------------------------------------------


def _comfy_default_graph(positive: str, negative: str) -> dict:
    """ComfyUI's default text-to-image workflow, in API format."""
    return {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 42,
                "steps": 20,
                "cfg": 7,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.ckpt"}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 1},
        },
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {
            "class_type": "SaveImage",
            "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]},
        },
    }


def test_a1111_prompt_excludes_negative_prompt():
    params = parse_a1111_parameters(
        "a castle on a hill\nNegative prompt: nsfw, child, nude\nSteps: 20, Seed: 1"
    )
    text = prompt_text(params)
    assert text == "a castle on a hill"
    assert rate_prompt(text) == PromptRating(level=Level.PG, sexual_terms=(), minor_terms=())


def test_comfy_prompt_follows_positive_link_only():
    params = {"comfy_prompt": _comfy_default_graph("a cat on a sofa", "nsfw, child, nude")}
    assert prompt_text(params) == "a cat on a sofa"


def test_comfy_prompt_integer_node_ids():
    graph = {
        6: {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox"}},
        7: {"class_type": "CLIPTextEncode", "inputs": {"text": "child"}},
        3: {"class_type": "KSampler", "inputs": {"positive": [6, 0], "negative": [7, 0]}},
    }
    assert prompt_text({"comfy_prompt": graph}) == "a red fox"


def test_comfy_prompt_through_conditioning_and_controlnet_nodes():
    graph = _comfy_default_graph("a lighthouse", "lowres, child")
    graph["10"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "storm", "clip": ["4", 1]}}
    graph["11"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["10", 0]},
    }
    graph["12"] = {
        "class_type": "ControlNetApplyAdvanced",
        "inputs": {
            "positive": ["11", 0],
            "negative": ["7", 0],
            "control_net": ["13", 0],
            "image": ["14", 0],
            "strength": 1.0,
        },
    }
    graph["13"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "c.pth"}}
    graph["14"] = {"class_type": "LoadImage", "inputs": {"image": "pose.png"}}
    graph["3"]["inputs"]["positive"] = ["12", 0]
    graph["3"]["inputs"]["negative"] = ["12", 1]
    text = prompt_text({"comfy_prompt": graph})
    assert text.split("\n") == ["a lighthouse", "storm"]


def test_comfy_sdxl_encoder_text_fields_are_read():
    graph = _comfy_default_graph("unused", "child")
    graph["6"] = {
        "class_type": "CLIPTextEncodeSDXL",
        "inputs": {"text_g": "a misty forest", "text_l": "oil painting", "clip": ["4", 1]},
    }
    assert prompt_text({"comfy_prompt": graph}).split("\n") == ["a misty forest", "oil painting"]


def test_comfy_without_sampler_takes_texts_no_negative_link_reaches():
    graph = {
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a quiet harbour"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "nsfw, loli"}},
        "8": {"class_type": "SomeCustomGuider", "inputs": {"negative": ["7", 0]}},
    }
    assert prompt_text({"comfy_prompt": graph}) == "a quiet harbour"


def test_a1111_and_comfy_prompts_are_both_read_once():
    params = {
        "prompt": "a cat on a sofa",
        "negativePrompt": "child",
        "comfy_prompt": _comfy_default_graph("a cat on a sofa", "child"),
    }
    assert prompt_text(params) == "a cat on a sofa"
    params["comfy_prompt"]["6"]["inputs"]["text"] = "nsfw"
    assert prompt_text(params) == "a cat on a sofa\nnsfw"


def _cycle() -> dict:
    return {
        "1": {"class_type": "KSampler", "inputs": {"positive": ["2", 0]}},
        "2": {"class_type": "ConditioningCombine", "inputs": {"c": ["1", 0], "text": "a loop"}},
    }


@pytest.mark.parametrize(
    "params",
    [
        None,
        "a string",
        ["prompt"],
        42,
        {},
        {"prompt": None},
        {"prompt": 123},
        {"prompt": ["nude"]},
        {"comfy_prompt": None},
        {"comfy_prompt": "not a graph"},
        {"comfy_prompt": ["a", "list"]},
        {"comfy_prompt": {"1": None, "2": "x", "3": [], "4": {"inputs": "x"}}},
        {"comfy_prompt": {"1": {"class_type": "KSampler", "inputs": {"positive": ["404", 0]}}}},
        {"comfy_prompt": {"1": {"inputs": {"positive": [None, 0]}}}},
        {"comfy_prompt": {"1": {"inputs": {"positive": [["x"], 0]}}}},
        {"comfy_prompt": {"1": {"inputs": {"positive": [{"x": 1}, 0]}}}},
        {"comfy_prompt": {"1": {"inputs": {"positive": ["1", "0"], "text": 5}}}},
        {"comfy_prompt": {"1": {"inputs": {"positive": [True, False]}}}},
        {"comfy_prompt": {"1": {"inputs": {"positive": ["1", 0, 0]}}}},
        {"comfy_prompt": {"1": {"inputs": {"negative": "x", "text": ["2", 0]}}}},
        {"comfy_prompt": _cycle()},
    ],
)
def test_malformed_generation_params_never_raise(params):
    result = prompt_text(params)
    assert isinstance(result, str)
    assert len(result) <= PROMPT_TEXT_CAP


def test_comfy_cycle_still_yields_its_text_once():
    assert prompt_text({"comfy_prompt": _cycle()}) == "a loop"


def test_huge_inputs_are_capped():
    assert len(prompt_text({"prompt": "x" * 50_000})) == PROMPT_TEXT_CAP
    graph = {
        str(i): {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": f"{i} " + "y" * 1000, "next": [str(i + 1), 0]},
        }
        for i in range(20_000)
    }
    graph["sampler"] = {"class_type": "KSampler", "inputs": {"positive": ["0", 0]}}
    start = time.perf_counter()
    text = prompt_text({"comfy_prompt": graph})
    assert time.perf_counter() - start < 2
    assert 0 < len(text) <= PROMPT_TEXT_CAP
    assert text.startswith("0 yyy")


# --- combine ---------------------------------------------------------------------------

PG_IMAGE = ImageRating(level=Level.PG, reasons=())
R_IMAGE = ImageRating(level=Level.R, reasons=("exposed buttocks (score 0.72)",))


def test_minor_terms_with_r_prompt_block():
    level, findings = combine(PG_IMAGE, rate_prompt("nude, loli"))
    assert level == Level.R
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == RuleCode.MINORS
    assert finding.severity == Severity.BLOCK
    assert finding.score is None
    assert "loli" in finding.message and "R" in finding.message
    assert finding.evidence["minor_terms"] == ["loli"]
    assert finding.evidence["level"] == 4


def test_minor_terms_with_r_image_block_and_evidence_names_the_detections():
    level, findings = combine(R_IMAGE, rate_prompt("a child at the beach"))
    assert level == Level.R
    assert [f.severity for f in findings] == [Severity.BLOCK]
    evidence = findings[0].evidence
    assert evidence["detections"] == ["exposed buttocks (score 0.72)"]
    assert evidence["image_level"] == 4 and evidence["prompt_level"] == 1
    # Stored on the CheckRun row as JSON, and read back.
    assert Finding.from_json(json.loads(json.dumps(findings[0].as_json()))) == findings[0]


def test_minor_terms_below_r_are_only_info():
    pg13_image = ImageRating(level=Level.PG13, reasons=("exposed belly (score 0.70)",))
    level, findings = combine(pg13_image, rate_prompt("children playing, swimsuit"))
    assert level == Level.PG13
    assert len(findings) == 1
    assert findings[0].rule == RuleCode.MINORS
    assert findings[0].severity == Severity.INFO
    assert findings[0].evidence["minor_terms"] == ["children"]
    json.dumps(findings[0].as_json())


def test_sexual_level_alone_is_no_finding():
    xxx_image = ImageRating(level=Level.XXX, reasons=("...",))
    level, findings = combine(xxx_image, rate_prompt("nsfw"))
    assert level == Level.XXX
    assert findings == []


def test_level_is_the_higher_of_image_and_prompt():
    assert combine(R_IMAGE, rate_prompt("sex"))[0] == Level.XXX
    assert combine(R_IMAGE, rate_prompt("a cat"))[0] == Level.R
    assert combine(PG_IMAGE, rate_prompt("a cat")) == (Level.PG, [])


# --- detect on real photos ---------------------------------------------------------------

SKIMAGE_PHOTOS = ["astronaut", "coffee", "chelsea", "rocket"]
FACE_PHOTOS = sorted(path.name for path in FACES.glob("*.jpg"))


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def test_face_fixtures_are_present():
    assert len(FACE_PHOTOS) >= 5


@pytest.mark.parametrize("name", SKIMAGE_PHOTOS)
def test_skimage_photos_rate_pg(name):
    image = Image.fromarray(getattr(skdata, name)())
    detections = detect(image)
    assert all(isinstance(d, Detection) for d in detections)
    assert rate_detections(detections).level == Level.PG


def test_detector_finds_the_astronauts_face():
    # Guards the pipeline itself: a wrong channel order or an empty result would still be PG.
    detections = detect(Image.fromarray(skdata.astronaut()))
    assert any(d.label == "FACE_FEMALE" and d.score > 0.6 for d in detections)


@pytest.mark.parametrize("name", FACE_PHOTOS)
def test_face_photos_rate_pg_and_show_a_face(name):
    detections = detect(_open(FACES / name))
    assert any(d.label.startswith("FACE_") for d in detections)
    assert rate_detections(detections).level == Level.PG


def test_boxes_lie_within_a_large_image():
    image = _open(FACES / "obama_and_biden.jpg")
    assert image.size == (2000, 1428)
    detections = detect(image)
    assert detections
    for d in detections:
        x, y, w, h = d.box
        assert all(isinstance(v, int) for v in d.box)
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= 2000 and y + h <= 1428
    # The faces are in the middle of the picture, not squeezed into the 640 px corner.
    assert max(d.box[0] for d in detections) > 640


def test_boxes_scale_back_to_the_callers_coordinates():
    small = Image.fromarray(skdata.astronaut())  # 512 x 512
    large = small.resize((2048, 2048), Image.Resampling.LANCZOS)
    (face_small,) = [d for d in detect(small) if d.label == "FACE_FEMALE"]
    (face_large,) = [d for d in detect(large) if d.label == "FACE_FEMALE"]
    for a, b in zip(face_small.box, face_large.box, strict=True):
        assert abs(4 * a - b) <= 16


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "1", "I;16", "F"])
def test_any_image_mode_is_accepted(mode):
    image = Image.fromarray(skdata.astronaut()).convert(mode)
    assert rate_detections(detect(image)).level == Level.PG


def test_transparent_pixels_are_seen_as_the_white_a_viewer_sees():
    image = Image.fromarray(skdata.astronaut()).convert("RGBA")
    assert any(d.label == "FACE_FEMALE" for d in detect(image))
    image.putalpha(0)  # the photo is still there under alpha 0, but nobody sees it
    assert not any(d.label.startswith("FACE_") for d in detect(image))


@pytest.mark.parametrize("size", [(1, 1), (5000, 3), (3, 5000)])
def test_tiny_and_extreme_aspect_images_do_not_raise(size):
    assert isinstance(detect(Image.new("RGB", size, (200, 180, 160))), list)


def test_import_is_light_and_django_free():
    code = (
        "import sys\n"
        "import moderation.checks.nudity as n\n"
        "assert n._detector is None\n"
        "assert 'django' not in sys.modules, 'django imported'\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported'\n"
        "assert n.rate_prompt('nude').level == n.Level.R\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_detector_is_loaded_once():
    detect(Image.new("RGB", (64, 64)))
    first = nudity._get_detector()
    detect(Image.new("RGB", (64, 64)))
    assert nudity._get_detector() is first
