"""Rules about what an upload may declare, shared by the form, the services and the API."""

from __future__ import annotations

import io
import json
import os
import re
import unicodedata

import yaml
from django.core.exceptions import ValidationError

from models_hub.choices import CommercialUse
from models_hub.formats.detect import Detected, UnrecognisedFormat, detect
from models_hub.formats.pickles import scan_stream
from models_hub.models import License

MODEL_EXTENSIONS = {"safetensors", "ckpt", "pt", "pth", "bin", "gguf", "onnx", "zip"}
CONFIG_EXTENSIONS = {"yaml", "yml", "json"}
ALLOWED_EXTENSIONS = MODEL_EXTENSIONS | CONFIG_EXTENSIONS
DISPLAY_NAME_CAP = 200
# Tools pick their loader by the extension, so name and content must agree both ways: a
# pickle named .safetensors, or GGUF-looking bytes named .ckpt (which torch would unpickle),
# are refused.
FORMAT_OF_EXTENSION = {
    "safetensors": "SafeTensor", "gguf": "GGUF", "onnx": "ONNX",
    "ckpt": "PickleTensor", "pt": "PickleTensor", "pth": "PickleTensor", "bin": "PickleTensor",
    "zip": "PickleTensor",
}  # fmt: skip
CONFIG_BYTES_CAP = 1024 * 1024


def license_permission_errors(
    *,
    license: License,
    allow_commercial_use: str,
    allow_no_credit: bool,
    allow_derivatives: bool,
    allow_different_license: bool,
    license_other_url: str,
    license_other_text: str,
) -> dict[str, str]:
    """Field -> message for every permission the chosen license does not grant."""
    errors: dict[str, str] = {}
    if license.is_other:
        if not license_other_url:
            errors["license_other_url"] = "Give a link to the license you chose as “Other”."
        if not license_other_text.strip():
            errors["license_other_text"] = "Paste the text of the license you chose as “Other”."
    if CommercialUse.rank(allow_commercial_use) > license.commercial_rank:
        errors["allow_commercial_use"] = (
            f"{license.name} allows at most “{CommercialUse(license.commercial_use).label}”; "
            f"you cannot grant “{CommercialUse(allow_commercial_use).label}”."
        )
    if allow_no_credit and license.credit_required:
        errors["allow_no_credit"] = f"{license.name} requires credit; you cannot waive it."
    if allow_derivatives and not license.derivatives_allowed:
        errors["allow_derivatives"] = f"{license.name} does not allow derivatives."
    if allow_different_license and not license.relicensing_allowed:
        errors["allow_different_license"] = (
            f"{license.name} does not let derivatives use a different license."
        )
    return errors


_STRIP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def normalise_display_name(raw: str, *, fallback: str) -> str:
    """A file name safe to show and to send in Content-Disposition; never used as a path."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    # Control, format (bidi overrides, zero-width) and unassigned characters go.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _STRIP_CATEGORIES)
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    if len(name) > DISPLAY_NAME_CAP:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: DISPLAY_NAME_CAP - len(ext) - 1] + "." + ext
        else:
            name = name[:DISPLAY_NAME_CAP]
    return name or fallback


def extension_of(name: str) -> str:
    return os.path.splitext(name)[1].lower().lstrip(".")


def inspect_model_upload(uploaded) -> Detected:
    """Check an uploaded model file by its content; ValidationError says why it is refused."""
    ext = extension_of(uploaded.name or "")
    if ext not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(f".{e}" for e in sorted(ALLOWED_EXTENSIONS))
        raise ValidationError(
            f"“{uploaded.name[:100]}”: files of this type are not accepted ({allowed})."
        )
    if not uploaded.size:
        raise ValidationError(f"“{uploaded.name[:100]}” is empty.")
    uploaded.seek(0)
    if ext in CONFIG_EXTENSIONS:
        check_config_file(uploaded, ext)
        return Detected(format="Other")
    try:
        detected = detect(uploaded, uploaded.size)
    except UnrecognisedFormat as exc:
        raise ValidationError(f"“{uploaded.name[:100]}”: {exc}") from None
    finally:
        uploaded.seek(0)
    expected = FORMAT_OF_EXTENSION.get(ext)
    if detected.format != expected:
        # A pickle renamed .safetensors would be loaded by tools that trust the name.
        raise ValidationError(
            f"“{uploaded.name[:100]}” is named .{ext} but its content is {detected.format}: "
            f"give it the extension of its real format."
        )
    return detected


def check_config_file(uploaded, ext: str) -> None:  # noqa: ANN001 - a Django UploadedFile
    """A config must be small, UTF-8 throughout, and parse as what its name says."""
    name = f"“{uploaded.name[:100]}”"
    if uploaded.size > CONFIG_BYTES_CAP:
        raise ValidationError(f"{name}: config files may be at most {CONFIG_BYTES_CAP:,} bytes.")
    uploaded.seek(0)
    raw = uploaded.read(CONFIG_BYTES_CAP + 1)
    uploaded.seek(0)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{name} is not UTF-8 text.") from None
    if "\x00" in text:
        raise ValidationError(f"{name} is not a text config file.")
    try:
        if ext == "json":
            json.loads(text)
        else:
            yaml.safe_load(text)
    except (ValueError, yaml.YAMLError, RecursionError):
        raise ValidationError(f"{name} is not valid {ext.upper()}.") from None
    # Text can still be a protocol-0 pickle: a file that renamed would load code.
    scan = scan_stream(io.BytesIO(raw), label=uploaded.name[:100])
    if scan.status == "Danger":
        raise ValidationError(f"{name} contains a pickle that imports code.")


class UploadsSuspended(PermissionError):
    """A moderator suspended the uploader; the message says until when."""


def check_not_suspended(owner) -> None:
    """Every upload path asks this (the upload services), not each view."""
    if owner.is_suspended:
        until = f"{owner.suspended_until:%Y-%m-%d %H:%M}"
        raise UploadsSuspended(f"Your uploads are suspended until {until} UTC.")
