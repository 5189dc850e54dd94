"""What the seeded catalogue looks like: word lists, proportions and sizes."""

from __future__ import annotations

from models_hub.choices import ModelType, NsfwLevel, Status


def _words(text: str) -> list[str]:
    return text.split()


def _phrases(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", " ").split(",") if p.strip()]


DAY = 86_400.0
HISTORY_DAYS = 730  # models were published over the last two years

# Per model, per version, per image and per user: how much of the community each has.
FAVORITES_PER_MODEL = 8
REVIEWS_PER_VERSION = 1.5
COMMENTS_PER_MODEL = 1.0
COMMENTS_PER_IMAGE = 0.1
REACTIONS_PER_IMAGE = 1.0
FOLLOWS_PER_USER = 5
DOWNLOAD_DAYS = 60
DOWNLOAD_DAY_SHARE = 0.02  # the most downloaded 2% of public versions have daily rows
MAX_IMAGES_PER_VERSION = 300

ADJECTIVES = _words("""
aurora azure blazing bold bright celestial cinematic classic clean cosmic crisp crystal
dark dreamy dusky electric elegant ember epic ethereal fairy feral fluffy frosted gentle
ghostly gilded glossy golden gothic grand hazy heroic hyper iron ivory jade lucid lunar
lush magic midnight minimal misty moody mystic neon noble nova obsidian opal pastel
pixel primal pure quiet radiant rainy retro royal rustic sacred scarlet serene shadow
silent silver sleek smooth solar sonic stellar stormy sunny twilight urban velvet vintage
vivid wild winter wonder zen
""")
NOUNS = _words("""
anime armor atlas bloom canvas castle city cloud comet coral dragon dream echo engine
fable fantasy flame flora forest fox garden ghost glow harbor haven horizon icon ink
island jungle kitsune knight lantern legend light lotus machine manga mecha meadow mirror
moon muse nebula night oasis ocean orchid painter palette petal phoenix pixel planet
portrait prism quest raven realm river robot rose sakura samurai scene shrine sketch
sky spirit star storm studio sun temple tide tiger valley vision voyage wave witch wolf
world
""")
SUFFIXES = [
    "", "", "", "XL", "Mix", "Diffusion", "Realism", "Style", "Lora", "v2", "Pro", "Lite",
    "Turbo", "Remix", "Fusion", "Plus", "Refined", "Pony", "Flux", "DPO",
]  # fmt: skip
# Tags as normalise_tags leaves them: lower case, single spaces.
TAGS = sorted(
    set(
        _phrases("""
anime, character, style, concept, clothing, photorealistic, woman, man, landscape,
architecture, sci-fi, fantasy, cyberpunk, steampunk, pixel art, watercolor, portrait,
background, vehicle, animal, food, horror, retro, meme, game character, armor, weapon,
building, cartoon, 3d, comics, manga, illustration, painting, oil painting, lineart, sketch,
chibi, mecha, robot, nature, flowers, cute, dark, sexy, realistic, base model, tool, poses,
lighting, photography, cinematic, scenery, interior, city, space, ocean, forest, dragon,
monster, fashion, dress, hairstyle, tattoo, jewelry, sports, car, motorcycle, aircraft,
ship, medieval, samurai, ninja, elf, witch, vampire, zombie, cat, dog, bird, horse, fish,
insect, food photography, product design, logo, typography
""")
    )
    | {f"{word} style" for word in ("ghibli", "ukiyo-e", "art nouveau", "baroque", "noir")}
    | {f"{a} {n}" for a in ADJECTIVES[::6] for n in NOUNS[::9]}
)
SAMPLERS = ["DPM++ 2M Karras", "Euler a", "DPM++ SDE Karras", "DDIM", "UniPC", "Euler"]
PROMPT_BITS = _phrases("""
masterpiece, best quality, highly detailed, 8k, sharp focus, soft lighting, volumetric fog,
golden hour, studio lighting, depth of field, bokeh, dramatic shadows, intricate details,
looking at viewer, full body, upper body, wide shot, close-up, from above, night, rain,
snow, sunset, city street, forest clearing, mountain lake, neon signs, old library,
flower field, beach, spaceship interior, castle hall, 1girl, 1boy, solo, smiling,
long hair, short hair, armor, kimono, hoodie, school uniform, suit, dress, cat ears
""")
NEGATIVE = [
    "lowres, bad anatomy, bad hands, text, error, missing fingers, worst quality",
    "blurry, lowres, jpeg artifacts, watermark, signature",
    "(worst quality:1.4), (low quality:1.4), monochrome",
    "",
]
SENTENCES = [
    "Trained on {n} hand-picked images at {res} px.",
    "Works best at a weight of 0.{w} to 0.{w2}.",
    "Use the trigger words shown beside the download button.",
    "Recommended sampler: {sampler}, {steps} steps, CFG {cfg}.",
    "This {type} pairs well with most {base} checkpoints.",
    "Merged and refined over several weeks; feedback welcome in the comments.",
    "Please share your results in the gallery!",
    "Hires fix at 1.5x with 0.4 denoise gives the sharpest faces.",
    "Avoid very high CFG values: colours burn above 9.",
    "Version notes are on each version's page.",
    "Made for illustration work; photographs are not its strength.",
    "Clip skip 2 for the anime look, 1 for everything else.",
    "The training data was captioned by hand and cleaned twice.",
    "If you use it commercially, read the license permissions below.",
    "Thanks to everyone who tested the early versions.",
    "Negative embeddings are optional but help with hands.",
    "Lower the weight if the style overpowers your prompt.",
    "Best paired with an upscaler for posters and prints.",
]
VERSION_NOTES = [
    "First release.",
    "Retrained with {n} more images; better hands.",
    "Fixed over-saturation at high weights.",
    "Smaller file, same quality (pruned).",
    "New dataset, sharper details, fewer artefacts.",
    "Rebalanced colours; works at lower CFG.",
]
BIOS = [
    "I make LoRAs for fun. Requests welcome.",
    "Illustrator exploring diffusion models.",
    "Photographer training models on my own photos.",
    "Mostly anime styles. Check my collections!",
    "Merging checkpoints since 2022.",
]
REVIEW_TEXTS = [
    "Clean results at the recommended weight; the trigger words work as described.",
    "My go-to for this style. Sample prompts in the gallery reproduce well.",
    "Overcooks faces above 0.8 weight; fine lower.",
    "Great detail, a bit slow to converge.",
    "Does exactly what it says.",
]
COMMENT_TEXTS = [
    "Which sampler did you use for the cover image?",
    "Amazing work, thank you for sharing!",
    "Does this work with the latest base model?",
    "Any plans for an SDXL version?",
    "The colours are gorgeous.",
    "Could you share the full prompt of the third image?",
    "Works great with hires fix.",
]
MODERATION_REASONS = [
    "The license of a parent model does not allow this use.",
    "Images above the declared rating.",
    "Resembles a real person who has not consented.",
    "Spam: unrelated tags and links.",
]

# (type, weight): LoRAs dominate, every type appears.
TYPE_WEIGHTS = {
    ModelType.LORA: 55, ModelType.CHECKPOINT: 14, ModelType.TEXTUAL_INVERSION: 8,
    ModelType.LOCON: 6, ModelType.DORA: 2, ModelType.HYPERNETWORK: 1,
    ModelType.AESTHETIC_GRADIENT: 0.5, ModelType.CONTROLNET: 2, ModelType.UPSCALER: 1.5,
    ModelType.MOTION_MODULE: 1, ModelType.VAE: 1.5, ModelType.POSES: 1.5,
    ModelType.WILDCARDS: 1.5, ModelType.WORKFLOWS: 2, ModelType.DETECTION: 1,
    ModelType.OTHER: 1.5,
}  # fmt: skip
BASE_WEIGHTS = {
    "sdxl-1-0": 24, "sd-1-5": 22, "pony": 18, "illustrious": 14, "flux-1-dev": 12,
    "flux-1-schnell": 2, "sd-3-5": 3, "other": 5,
}  # fmt: skip
# The highest rating of a model's images: most PG, fewer PG-13, R, X, XXX.
RATING_WEIGHTS = {NsfwLevel.PG: 70, NsfwLevel.PG13: 14, NsfwLevel.R: 9, NsfwLevel.X: 5, 16: 2}
MODEL_STATUS_WEIGHTS = {
    Status.PUBLISHED: 88, Status.DRAFT: 4, Status.IN_REVIEW: 1, Status.UNPUBLISHED: 3,
    Status.BLOCKED: 1.5, Status.DELETED: 2.5,
}  # fmt: skip
# Later versions of a model that was published once.
VERSION_STATUS_WEIGHTS = {
    Status.PUBLISHED: 92, Status.DRAFT: 3, Status.UNPUBLISHED: 2, Status.BLOCKED: 1,
    Status.DELETED: 2,
}  # fmt: skip
WAS_PUBLISHED = (Status.PUBLISHED, Status.UNPUBLISHED, Status.BLOCKED, Status.DELETED)
TRIGGERED_TYPES = {ModelType.LORA, ModelType.LOCON, ModelType.DORA, ModelType.TEXTUAL_INVERSION}
CONFIG_TYPES = {ModelType.POSES, ModelType.WILDCARDS, ModelType.WORKFLOWS}
PICKLE_TYPES = {ModelType.UPSCALER, ModelType.DETECTION, ModelType.HYPERNETWORK}
# Median file size in MB by type (checkpoints by base model below), spread log-normally.
SIZE_MB = {
    ModelType.LORA: 110, ModelType.LOCON: 140, ModelType.DORA: 160,
    ModelType.TEXTUAL_INVERSION: 0.05, ModelType.HYPERNETWORK: 85,
    ModelType.AESTHETIC_GRADIENT: 0.005, ModelType.CONTROLNET: 1400, ModelType.UPSCALER: 64,
    ModelType.MOTION_MODULE: 1700, ModelType.VAE: 320, ModelType.DETECTION: 20,
    ModelType.OTHER: 200, ModelType.POSES: 0.3, ModelType.WILDCARDS: 0.1, ModelType.WORKFLOWS: 0.05,
}  # fmt: skip
CHECKPOINT_MB = {
    "sd-1-5": 2130, "sdxl-1-0": 6940, "pony": 6940, "illustrious": 6940, "sd-3-5": 16500,
    "flux-1-dev": 11900, "flux-1-schnell": 11900, "other": 4000,
}  # fmt: skip
SAMPLE_SIZES = [(832, 1216), (1216, 832), (1024, 1024), (768, 1152), (512, 768), (896, 1152)]
SAMPLE_PICTURES = 8
