"""NSFW rating of gallery images: nudenet detections and prompt words turned into a `Level`.

No Django imports. Three pure steps the check composes:
    rate_detections(detect(image))        -> ImageRating   (what the picture shows)
    rate_prompt(prompt_text(params))      -> PromptRating  (what the author asked for)
    combine(image_rating, prompt_rating)  -> (Level, [Finding])

Levels are not violations: a sexual level only decides who may browse the image. The one
finding here is about minors: minor words in the prompt of an image rated R or above.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, NamedTuple

from PIL import Image

from moderation.checks.findings import Finding, Level, RuleCode, Severity
from moderation.checks.names import fold

if TYPE_CHECKING:
    from nudenet import NudeDetector

# Bump when the rules, term lists or preprocessing change, so stored ratings can be redone.
DETECTOR_VERSION = 1

# nudenet letterboxes to a 320 px square itself; downscaling large uploads with Pillow first
# bounds the memory and time spent in OpenCV (a 40 MP image would otherwise be copied and
# converted at full size several times) and keeps the filter a proper antialiasing one.
DETECT_MAX_SIDE = 640

# Modes Pillow resizes with a real filter; anything else ("P", "1", "I;16", ...) is converted
# to RGB(A) before resizing, since a palette image is resized with nearest-neighbour.
_RESIZABLE_MODES = frozenset({"RGB", "RGBA", "L", "LA", "CMYK"})


@dataclass(frozen=True)
class Detection:
    """One nudenet box: `box` is (x, y, width, height) in the caller's image pixels."""

    label: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageRating:
    level: Level
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PromptRating:
    level: Level
    sexual_terms: tuple[str, ...]
    minor_terms: tuple[str, ...]


# ---------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------

_detector: NudeDetector | None = None
_detector_lock = threading.Lock()


def _get_detector() -> NudeDetector:
    """The process-wide detector, loaded on first use (about 12 MB of ONNX weights).

    onnxruntime's `InferenceSession.run` is thread-safe, so one instance serves all threads;
    the lock only stops two threads loading it at once.
    """
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from nudenet import NudeDetector

                _detector = NudeDetector()
    return _detector


def _prepare(image: Image.Image) -> Image.Image:
    """An opaque RGBA copy whose longest side is at most DETECT_MAX_SIDE.

    Transparent pixels are composited onto white, which is what a viewer sees on the site;
    the colour hidden under alpha 0 is arbitrary and would only add noise.
    """
    if image.mode not in _RESIZABLE_MODES:
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    width, height = image.size
    if max(width, height) > DETECT_MAX_SIDE:
        scale = DETECT_MAX_SIDE / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, image.convert("RGBA"))


def _scale_box(
    box: Iterable[Any], scale_x: float, scale_y: float, width: int, height: int
) -> tuple[int, int, int, int]:
    x, y, w, h = (float(v) for v in box)
    left = min(max(int(x * scale_x), 0), width)
    top = min(max(int(y * scale_y), 0), height)
    right = min(max(round((x + w) * scale_x), left), width)
    bottom = min(max(round((y + h) * scale_y), top), height)
    return (left, top, right - left, bottom - top)


def detect(image: Image.Image) -> list[Detection]:
    """Run nudenet on a decoded image; boxes come back in `image`'s own coordinates.

    Only Pillow decodes: nudenet is handed a numpy array, never a path or raw bytes, so
    OpenCV's decoders never see untrusted input. Loads the model on first call.
    """
    import numpy as np

    width, height = image.size
    if width < 1 or height < 1:
        return []
    small = _prepare(image)
    # nudenet calls cv2.cvtColor(mat, COLOR_RGBA2BGR) on whatever array it is given.
    raw = _get_detector().detect(np.asarray(small))
    scale_x, scale_y = width / small.width, height / small.height
    return [
        Detection(
            label=str(item["class"]),
            score=float(item["score"]),
            box=_scale_box(item["box"], scale_x, scale_y, width, height),
        )
        for item in raw
    ]


# ---------------------------------------------------------------------------------------
# Rating detections
# ---------------------------------------------------------------------------------------


class ImageRule(NamedTuple):
    min_score: float
    level: Level
    phrase: str


# label -> the lowest score that counts, the level it sets, and the words used in reasons.
# The image's level is the highest rule that fires; anything below its threshold is ignored.
#
# Levels follow the usual model-sharing scale: PG-13 for underwear and swimwear, R for bare
# breasts or buttocks, X for genitals, XXX for sexual acts (the two-detection rule below).
# Thresholds are 0.5 because the 320n model's false positives on ordinary photos sit well
# under it: skimage's coffee() gives BUTTOCKS_EXPOSED 0.296 and a clothed portrait (Rose
# Leslie, tests/fixtures/faces) FEMALE_BREAST_COVERED 0.38 (0.42 after our 640 px
# downscale). Bare bellies are common in everyday photos (sport, beach, crop tops), so they
# need a surer score (0.6) before they lift a picture to PG-13.
IMAGE_RULES: dict[str, ImageRule] = {
    "FEMALE_GENITALIA_EXPOSED": ImageRule(0.5, Level.X, "exposed female genitalia"),
    "MALE_GENITALIA_EXPOSED": ImageRule(0.5, Level.X, "exposed male genitalia"),
    "ANUS_EXPOSED": ImageRule(0.5, Level.X, "exposed anus"),
    "FEMALE_BREAST_EXPOSED": ImageRule(0.5, Level.R, "exposed female breast"),
    "BUTTOCKS_EXPOSED": ImageRule(0.5, Level.R, "exposed buttocks"),
    "FEMALE_BREAST_COVERED": ImageRule(0.5, Level.PG13, "covered female breast"),
    "FEMALE_GENITALIA_COVERED": ImageRule(0.5, Level.PG13, "covered female genitalia"),
    "BUTTOCKS_COVERED": ImageRule(0.5, Level.PG13, "covered buttocks"),
    "ANUS_COVERED": ImageRule(0.5, Level.PG13, "covered anus"),
    "BELLY_EXPOSED": ImageRule(0.6, Level.PG13, "exposed belly"),
}

# Labels that never change the level: faces, feet and armpits say nothing about nudity, and
# a bare male chest is ordinary (beach, sport). Listed so every nudenet label is decided.
IGNORED_LABELS = frozenset(
    {
        "FACE_FEMALE",
        "FACE_MALE",
        "FEET_EXPOSED",
        "FEET_COVERED",
        "ARMPITS_EXPOSED",
        "ARMPITS_COVERED",
        "BELLY_COVERED",
        "MALE_BREAST_EXPOSED",
    }
)

# XXX: two or more exposed genital/anal boxes, each at SEXUAL_ACT_MIN_SCORE or more, such as
# male and female genitals together: a sexual act is likely. nudenet's non-maximum
# suppression already merges overlapping boxes of one label, so two boxes are two body
# parts. Known over-rating: one person posed so that both genitals and anus show also counts;
# that moves an image between two levels nobody sees without opting in to explicit content.
SEXUAL_ACT_LABELS = frozenset(
    {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED"}
)
SEXUAL_ACT_MIN_SCORE = 0.5
SEXUAL_ACT_MIN_COUNT = 2


def rate_detections(detections: Iterable[Detection]) -> ImageRating:
    """The level the detections justify, with one reason per rule that fired (highest first)."""
    best: dict[str, float] = {}  # label -> highest score that passed its threshold
    act_scores: list[float] = []
    for detection in detections:
        rule = IMAGE_RULES.get(detection.label)
        if rule is None or not detection.score >= rule.min_score:
            continue
        best[detection.label] = max(best.get(detection.label, 0.0), detection.score)
        if detection.label in SEXUAL_ACT_LABELS and detection.score >= SEXUAL_ACT_MIN_SCORE:
            act_scores.append(detection.score)

    fired: list[tuple[Level, float, str]] = [
        (IMAGE_RULES[label].level, score, f"{IMAGE_RULES[label].phrase} (score {score:.2f})")
        for label, score in best.items()
    ]
    if len(act_scores) >= SEXUAL_ACT_MIN_COUNT:
        scores = ", ".join(f"{s:.2f}" for s in sorted(act_scores, reverse=True))
        fired.append(
            (
                Level.XXX,
                max(act_scores),
                f"{len(act_scores)} exposed genital or anal areas (scores {scores}): "
                "a sexual act is likely",
            )
        )
    if not fired:
        return ImageRating(level=Level.PG, reasons=())
    fired.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return ImageRating(level=fired[0][0], reasons=tuple(reason for _, _, reason in fired))


# ---------------------------------------------------------------------------------------
# Prompt text from stored generation parameters
# ---------------------------------------------------------------------------------------

PROMPT_TEXT_CAP = 20_000
# Bounds on a ComfyUI graph we walk: real workflows have tens of nodes, a few hundred at most.
MAX_GRAPH_NODES = 5_000
MAX_NODE_INPUTS = 256
# Inputs that hold prompt text as a string: CLIPTextEncode ("text"), its SDXL and Flux
# variants, and loader-style custom nodes that take the prompt directly ("positive").
_TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "t5xxl", "positive", "prompt")


def _link(value: Any) -> str | None:
    """The source node id if `value` is a ComfyUI link `[node_id, output_index]`."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    node_id, output = value
    if isinstance(node_id, bool) or not isinstance(node_id, str | int):
        return None
    if isinstance(output, bool) or not isinstance(output, int):
        return None
    return str(node_id)


def _walk(nodes: dict[str, dict], roots: Iterable[str], *, skip: str) -> list[str]:
    """Node ids reachable upstream from `roots`, never entering an input named `skip`."""
    order: list[str] = []
    seen: set[str] = set()
    queue = deque(roots)
    while queue and len(order) < MAX_GRAPH_NODES:
        node_id = queue.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        order.append(node_id)
        for key, value in islice(nodes[node_id].items(), MAX_NODE_INPUTS):
            if key != skip and (source := _link(value)) is not None:
                queue.append(source)
    return order


def _input_links(nodes: dict[str, dict], key: str) -> list[str]:
    return [source for inputs in nodes.values() if (source := _link(inputs.get(key))) is not None]


def _comfy_positive_texts(graph: dict) -> Iterator[str]:
    """Prompt strings on the positive side of a ComfyUI API-format graph.

    From every `positive` link (KSampler, SamplerCustom, CFGGuider, ControlNetApplyAdvanced)
    walk upstream through conditioning nodes (ConditioningCombine, ControlNetApply, ...) but
    never into a `negative` input. With no `positive` link at all, take every text node that
    no `negative` link reaches.
    """
    nodes: dict[str, dict] = {}
    for node_id, node in islice(graph.items(), MAX_GRAPH_NODES):
        if isinstance(node, dict) and isinstance(node.get("inputs"), dict):
            nodes[str(node_id)] = node["inputs"]
    positive_roots = _input_links(nodes, "positive")
    if positive_roots:
        reached = _walk(nodes, positive_roots, skip="negative")
    else:
        negative = set(_walk(nodes, _input_links(nodes, "negative"), skip="positive"))
        reached = [node_id for node_id in nodes if node_id not in negative]
    for node_id in reached:
        for key in _TEXT_INPUTS:
            value = nodes[node_id].get(key)
            if isinstance(value, str):
                yield value


def prompt_text(generation_params: Any) -> str:
    """The positive prompt from stored generation parameters; never the negative prompt.

    Reads A1111's "prompt" (see models_hub.formats.images.parse_a1111_parameters) and the
    ComfyUI API graph under "comfy_prompt". Malformed input gives "" or partial text, never
    an exception. At most PROMPT_TEXT_CAP characters.
    """
    if not isinstance(generation_params, dict):
        return ""
    a1111 = generation_params.get("prompt")
    comfy = generation_params.get("comfy_prompt")
    texts = chain(
        [a1111] if isinstance(a1111, str) else [],
        _comfy_positive_texts(comfy) if isinstance(comfy, dict) else [],
    )
    parts: list[str] = []
    total = 0
    for text in texts:
        text = text[:PROMPT_TEXT_CAP].strip()
        if not text or text in parts:
            continue
        parts.append(text)
        total += len(text) + 1
        if total >= PROMPT_TEXT_CAP:
            break
    return "\n".join(parts)[:PROMPT_TEXT_CAP]


# ---------------------------------------------------------------------------------------
# Rating prompt words
# ---------------------------------------------------------------------------------------
#
# Matching (see _normalise and _term_pattern): text is NFKC-normalised and casefolded, so
# full-width "ＮＳＦＷ" is "nsfw" and half-width "ﾛﾘ" is "ロリ"; underscores (danbooru tags
# such as "pussy_juice") count as spaces and invisible format characters are dropped.
# Latin terms match as whole words (letters and digits on neither side), so "Essex", "sexy",
# "kidney", "skids" and "minority" do not match; plural forms are listed explicitly. A space
# inside a term matches any run of spaces or hyphens ("blow job", "blow-job").
# A1111 attention syntax needs no stripping: "(nude:1.3)", "[child]", "((nsfw))" leave the word
# between non-letters. Japanese terms match as substrings, except that a term starting with
# katakana must not continue a longer katakana word unless another term ends right there
# (ロリセックス is two terms): otherwise ロリ would fire on ゴスロリ (gothic lolita fashion),
# カロリー (calorie) and フロリダ (Florida), and セックス on ユニセックス (unisex).
# Lists are deliberately short: words that are almost always sexual or about children.
# Ambiguous words are left out on purpose: "teen" (a common label for adults of 18-19),
# "girl", "young", "baby", 少女 and 美少女 (used for adult characters everywhere), "cock".

# term -> the level it sets. The prompt's level is the highest matched term.
SEXUAL_TERMS: dict[str, Level] = {
    # PG-13: underwear, swimwear, suggestive (as for the image rules).
    **dict.fromkeys(
        [
            "sexy",
            "lingerie",
            "underwear",
            "panties",
            "bikini",
            "bikinis",
            "swimsuit",
            "swimwear",
            "cleavage",
            "セクシー",
            "セックスアピール",
            "下着",
            "ランジェリー",
            "ビキニ",
            "水着",
        ],
        Level.PG13,
    ),
    # R: nudity without genitals, or a request for it ("nsfw" is at least this).
    **dict.fromkeys(
        [
            "nsfw",
            "nude",
            "nudes",
            "nudity",
            "naked",
            "topless",
            "nipple",
            "nipples",
            "areola",
            "areolae",
            "areolas",
            "bare breasts",
            "exposed breasts",
            "erotic",
            "ecchi",
            "upskirt",
            "ヌード",
            "裸",
            "全裸",
            "半裸",
            "裸体",
            "乳首",
            "乳輪",
            "エロ",
            "エッチ",
            "パンチラ",
        ],
        Level.R,
    ),
    # X: genitals, or porn as a genre.
    **dict.fromkeys(
        [
            "pussy",
            "pussies",
            "vagina",
            "vaginas",
            "vulva",
            "labia",
            "clitoris",
            "penis",
            "penises",
            "testicles",
            "scrotum",
            "genitals",
            "genitalia",
            "pubic hair",
            "anus",
            "bottomless",
            "uncensored",
            "hentai",
            "porn",
            "porno",
            "pornographic",
            "pornography",
            "性器",
            "女性器",
            "男性器",
            "おまんこ",
            "まんこ",
            "ちんこ",
            "ちんぽ",
            "ペニス",
            "ヴァギナ",
            "陰部",
            "陰茎",
            "陰核",
            "陰毛",
            "膣",
            "肛門",
            "無修正",
            "ポルノ",
        ],
        Level.X,
    ),
    # XXX: sexual acts.
    **dict.fromkeys(
        [
            "sex",
            "intercourse",
            "fellatio",
            "blowjob",
            "blowjobs",
            "blow job",
            "cunnilingus",
            "handjob",
            "hand job",
            "footjob",
            "paizuri",
            "titjob",
            "fuck",
            "fucking",
            "cum",
            "cumshot",
            "creampie",
            "semen",
            "ejaculation",
            "ejaculating",
            "orgasm",
            "masturbation",
            "masturbating",
            "penetration",
            "vaginal",
            "anal",
            "doggystyle",
            "doggy style",
            "cowgirl position",
            "missionary position",
            "gangbang",
            "orgy",
            "threesome",
            "rape",
            "bukkake",
            "セックス",
            "性交",
            "フェラ",
            "フェラチオ",
            "中出し",
            "挿入",
            "射精",
            "精液",
            "手コキ",
            "パイズリ",
            "騎乗位",
            "正常位",
            "後背位",
            "輪姦",
            "強姦",
            "レイプ",
            "乱交",
            "オナニー",
            "自慰",
            "クンニ",
        ],
        Level.XXX,
    ),
}

# Words that name or strongly imply children. Ages under 18 ("12yo", "12 years old", "12歳")
# are matched separately by _AGE_PATTERNS.
MINOR_TERMS: tuple[str, ...] = (
    "child",
    "children",
    "kid",
    "kids",
    "toddler",
    "toddlers",
    "infant",
    "infants",
    "loli",
    "lolis",
    "lolicon",
    "shota",
    "shotas",
    "shotacon",
    "underage",
    "under age",
    # "minor" also means small ("minor details"): the commonest such phrases are neutral below.
    "minor",
    "minors",
    "preteen",
    "preteens",
    "pre teen",
    "prepubescent",
    "schoolgirl",
    "schoolgirls",
    "schoolboy",
    "schoolboys",
    "elementary school",
    "elementary schooler",
    "grade school",
    "primary school",
    "middle school",
    "middle schooler",
    "junior high",
    "kindergarten",
    "kindergartener",
    "kindergartner",
    "little girl",
    "little girls",
    "little boy",
    "little boys",
    "pedo",
    "pedophile",
    "paedophile",
    "pedophilia",
    "ロリ",
    "ロリコン",
    "ロリータ",
    "ショタ",
    "ショタコン",
    "幼女",
    "幼児",
    "乳児",
    "女児",
    "男児",
    "児童",
    "園児",
    "幼稚園",
    "子供",
    "子ども",
    "こども",
    "小学生",
    "中学生",
    "女子小学生",
    "女子中学生",
    "男子小学生",
    "男子中学生",
    "小学校",
    "未成年",
    "ランドセル",  # the satchel every Japanese primary-school child carries
)

# Phrases that contain a term but mean something else. Being longer, they win the match at
# their position and are then dropped.
NEUTRAL_TERMS: tuple[str, ...] = (
    "nude color",
    "nude colour",
    "nude colored",
    "nude lipstick",
    "nude makeup",
    "nude heels",
    "naked eye",
    "minor details",
    "minor flaws",
    "minor imperfections",
    "minor key",
    "ロリポップ",  # lollipop
    "ロリィタ",  # the fashion spelling of lolita
    "ロリータファッション",
    "ヌードル",  # noodle
    "ヌードカラー",
    "フェラーリ",  # Ferrari
    "裸足",  # barefoot
    "裸眼",  # naked eye
    "裸電球",  # bare light bulb
    "赤裸々",  # candid
    "裸子植物",  # gymnosperm
    "挿入歌",  # insert song
)

_LATIN_WORD = "0-9a-z\u00c0-\u024f"
_KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"  # without the middle dot U+30FB
_UNDER_18 = r"(1[0-7]|[1-9])"
_AGE_PATTERNS = (
    re.compile(
        rf"(?<![0-9.]){_UNDER_18}\s*-?\s*(?:yo|y/o|y\.o\.?|yrs?[\s\-]*old|years?[\s\-]*old)"
        rf"(?![{_LATIN_WORD}])"
    ),
    re.compile(rf"(?<![0-9.]){_UNDER_18}\s*(?:歳|才|さい)"),
    re.compile(rf"(?<![{_LATIN_WORD}])aged?\s*{_UNDER_18}(?![0-9])"),
)
_SPACES = re.compile(r"[\s\-]+")
PROMPT_RATE_CAP = PROMPT_TEXT_CAP


def _term_pattern(term: str) -> str:
    body = r"[\s\-]+".join(re.escape(word) for word in term.split(" "))
    if re.match(f"[{_LATIN_WORD}]", term[0]):
        body = f"(?<![{_LATIN_WORD}]){body}"
    if re.match(f"[{_LATIN_WORD}]", term[-1]):
        body = f"{body}(?![{_LATIN_WORD}])"
    return body


def _build_terms() -> tuple[re.Pattern[str], dict[str, Level | None]]:
    # canonical term -> level (None for a minor term or a neutral phrase)
    kinds: dict[str, Level | None] = {term: None for term in NEUTRAL_TERMS}
    kinds.update({term: None for term in MINOR_TERMS})
    kinds.update(SEXUAL_TERMS)
    # Longest first: at one position the alternation takes the first that matches, so
    # ロリコン beats ロリ and "nude lipstick" beats "nude".
    ordered = sorted(kinds, key=len, reverse=True)
    pattern = re.compile("|".join(_term_pattern(term) for term in ordered))
    return pattern, kinds


_TERMS_PATTERN, _TERM_LEVELS = _build_terms()
_MINOR_SET = frozenset(MINOR_TERMS)
_KATAKANA_CHAR = re.compile(f"[{_KATAKANA}]")


def _normalise(text: str) -> str:
    return fold(text).replace("_", " ")


def rate_prompt(text: str) -> PromptRating:
    """The level a prompt asks for, and the sexual and minor terms found (first-seen order)."""
    if not isinstance(text, str):
        return PromptRating(level=Level.PG, sexual_terms=(), minor_terms=())
    normalised = _normalise(text[:PROMPT_RATE_CAP])
    found: list[tuple[int, str]] = []  # (position, canonical term)
    previous_end = -1
    for match in _TERMS_PATTERN.finditer(normalised):
        start = match.start()
        if (
            start > 0
            and start != previous_end
            and _KATAKANA_CHAR.match(normalised[start])
            and _KATAKANA_CHAR.match(normalised[start - 1])
        ):
            continue  # inside a longer katakana word: ゴスロリ, カロリー, ユニセックス
        previous_end = match.end()
        found.append((start, _SPACES.sub(" ", match.group())))
    for pattern in _AGE_PATTERNS:
        for match in pattern.finditer(normalised):
            found.append((match.start(), f"{int(match.group(1))} years old"))
    found.sort(key=lambda item: item[0])

    level = Level.PG
    sexual: list[str] = []
    minor: list[str] = []
    for _, term in found:
        if term in _MINOR_SET or term.endswith(" years old"):
            if term not in minor:
                minor.append(term)
            continue
        term_level = _TERM_LEVELS.get(term)
        if term_level is None:  # a neutral phrase
            continue
        level = max(level, term_level)
        if term not in sexual:
            sexual.append(term)
    return PromptRating(level=level, sexual_terms=tuple(sexual), minor_terms=tuple(minor))


# ---------------------------------------------------------------------------------------
# Combining
# ---------------------------------------------------------------------------------------

LEVEL_NAMES = {Level.PG: "PG", Level.PG13: "PG-13", Level.R: "R", Level.X: "X", Level.XXX: "XXX"}


def combine(image: ImageRating, prompt: PromptRating) -> tuple[Level, list[Finding]]:
    """The image's level (the higher of picture and prompt) and any minors finding.

    Minor terms with a level of R or above block: sexual or nude content involving minors is
    never allowed. Below R they are only noted. A sexual level alone is no finding.
    """
    level = max(image.level, prompt.level)
    if not prompt.minor_terms:
        return level, []
    terms = ", ".join(prompt.minor_terms)
    name = LEVEL_NAMES.get(level, str(int(level)))
    evidence = {
        "minor_terms": list(prompt.minor_terms),
        "sexual_terms": list(prompt.sexual_terms),
        "level": int(level),
        "image_level": int(image.level),
        "prompt_level": int(prompt.level),
        "detections": list(image.reasons),
    }
    if level >= Level.R:
        message = (
            f"The prompt mentions minors ({terms}) and the image is rated {name}. "
            "Nude or sexual content involving minors is not allowed."
        )
        return level, [Finding(RuleCode.MINORS, Severity.BLOCK, message, None, evidence)]
    message = (
        f"The prompt mentions minors ({terms}). The image is rated {name}, so this is only noted."
    )
    return level, [Finding(RuleCode.MINORS, Severity.INFO, message, None, evidence)]
