"""Display-name normalisation (BAD_INPUTS row 29), license permissions, upload inspection."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from models_hub.demo import make_image, make_safetensors
from models_hub.models import License
from models_hub.validation import (
    DISPLAY_NAME_CAP,
    inspect_model_upload,
    license_permission_errors,
    normalise_display_name,
)

pytestmark = pytest.mark.django_db

FALLBACK = "model.safetensors"


def _name(raw):
    return normalise_display_name(raw, fallback=FALLBACK)


# --- normalise_display_name ------------------------------------------------------------


def test_relative_path_traversal_keeps_only_the_last_part():
    assert _name("../../x.safetensors") == "x.safetensors"


def test_absolute_path_keeps_only_the_last_part():
    assert _name("/abs/y.ckpt") == "y.ckpt"


def test_windows_path_keeps_only_the_last_part():
    assert _name("..\\..\\windows\\z.pt") == "z.pt"
    assert _name("C:\\Users\\me\\model.gguf") == "model.gguf"


def test_right_to_left_override_is_stripped():
    name = _name("invoice\u202egpj.exe")
    assert "\u202e" not in name
    assert name == "invoicegpj.exe"


@pytest.mark.parametrize("char", ["\u200b", "\u200e", "\u2066", "\ufeff", "\u2028"])
def test_other_invisible_format_characters_are_stripped(char):
    assert _name(f"lo{char}ra.safetensors") == "lora.safetensors"


def test_nul_and_control_characters_are_stripped():
    assert _name("a.php\x00.jpg") == "a.php.jpg"
    assert _name("bad\x01\x07\x1b[31mname\x7f.ckpt") == "bad[31mname.ckpt"
    assert _name("line\r\nbreak.pt") == "linebreak.pt"


def test_percent_encoded_nul_is_left_as_text_not_decoded():
    assert _name("a.php%00.jpg") == "a.php%00.jpg"


def test_whitespace_runs_collapse_and_leading_dots_go():
    assert _name("  my \t  model  .safetensors ") == "my model .safetensors"
    assert _name(".htaccess") == "htaccess"
    assert _name("...hidden.ckpt") == "hidden.ckpt"


def test_ten_thousand_character_name_is_capped_keeping_extension():
    name = _name("a" * 10_000 + ".safetensors")
    assert len(name) == DISPLAY_NAME_CAP == 200
    assert name.endswith(".safetensors")
    assert name == "a" * (200 - len(".safetensors")) + ".safetensors"


def test_ten_thousand_character_name_without_extension_is_capped():
    name = _name("b" * 10_000)
    assert name == "b" * 200


def test_very_long_extension_is_not_kept_whole():
    name = _name("c" * 300 + "." + "d" * 300)
    assert len(name) == 200


def test_unicode_name_is_nfc_normalised_and_kept():
    assert _name("Cafe\u0301 \u6a21\u578b.safetensors") == "Caf\u00e9 \u6a21\u578b.safetensors"


@pytest.mark.parametrize("raw", ["", None, "   ", "../", "/", "..", "\u202e", "\x00\x01", "..\\"])
def test_empty_after_cleaning_falls_back(raw):
    assert _name(raw) == FALLBACK


# --- license_permission_errors ---------------------------------------------------------


def _errors(license: License, **overrides) -> dict[str, str]:
    kwargs = dict(
        license=license,
        allow_commercial_use="None",
        allow_no_credit=False,
        allow_derivatives=False,
        allow_different_license=False,
        license_other_url="",
        license_other_text="",
    )
    kwargs.update(overrides)
    return license_permission_errors(**kwargs)


def test_sell_on_cc_by_nc_is_an_error_on_commercial_use():
    errors = _errors(License.objects.get(slug="cc-by-nc-4.0"), allow_commercial_use="Sell")
    assert set(errors) == {"allow_commercial_use"}
    assert "CC-BY-NC-4.0" in errors["allow_commercial_use"]


@pytest.mark.parametrize("use", ["Image", "Rent", "Sell"])
def test_any_commercial_use_on_non_commercial_license_is_an_error(use):
    errors = _errors(License.objects.get(slug="cc-by-nc-4.0"), allow_commercial_use=use)
    assert "allow_commercial_use" in errors


def test_no_commercial_use_on_non_commercial_license_is_fine():
    assert _errors(License.objects.get(slug="cc-by-nc-4.0"), allow_commercial_use="None") == {}


def test_sell_on_permissive_license_is_fine():
    assert _errors(License.objects.get(slug="mit"), allow_commercial_use="Sell") == {}


def test_derivatives_on_license_without_derivatives_is_an_error():
    no_derivs = License.objects.create(
        slug="test-no-derivatives",
        name="No Derivatives Test License",
        commercial_use="Sell",
        credit_required=True,
        derivatives_allowed=False,
        relicensing_allowed=False,
    )
    errors = _errors(no_derivs, allow_derivatives=True)
    assert set(errors) == {"allow_derivatives"}
    assert "No Derivatives Test License" in errors["allow_derivatives"]
    assert _errors(no_derivs, allow_derivatives=False) == {}


def test_allow_no_credit_on_cc_by_is_an_error():
    errors = _errors(License.objects.get(slug="cc-by-4.0"), allow_no_credit=True)
    assert set(errors) == {"allow_no_credit"}


def test_allow_no_credit_on_license_without_credit_requirement_is_fine():
    assert _errors(License.objects.get(slug="cc0-1.0"), allow_no_credit=True) == {}


def test_allow_different_license_on_cc_by_sa_is_an_error():
    errors = _errors(
        License.objects.get(slug="cc-by-sa-4.0"),
        allow_derivatives=True,
        allow_different_license=True,
    )
    assert set(errors) == {"allow_different_license"}


def test_other_license_without_url_or_text_is_an_error_on_both():
    errors = _errors(License.objects.get(slug="other"))
    assert set(errors) == {"license_other_url", "license_other_text"}


def test_other_license_with_blank_text_is_an_error():
    errors = _errors(
        License.objects.get(slug="other"),
        license_other_url="https://example.com/license",
        license_other_text="   \n ",
    )
    assert set(errors) == {"license_other_text"}


def test_other_license_with_url_and_text_is_fine():
    errors = _errors(
        License.objects.get(slug="other"),
        allow_commercial_use="Sell",
        license_other_url="https://example.com/license",
        license_other_text="You may do anything.",
    )
    assert errors == {}


def test_several_violations_are_all_reported():
    errors = _errors(
        License.objects.get(slug="cc-by-nc-4.0"),
        allow_commercial_use="Rent",
        allow_no_credit=True,
        allow_derivatives=True,
        allow_different_license=True,
    )
    assert set(errors) == {"allow_commercial_use", "allow_no_credit", "allow_different_license"}


def test_compliant_combination_has_no_errors():
    errors = _errors(
        License.objects.get(slug="cc-by-4.0"),
        allow_commercial_use="Sell",
        allow_no_credit=False,
        allow_derivatives=True,
        allow_different_license=True,
    )
    assert errors == {}


# --- inspect_model_upload --------------------------------------------------------------


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_inspect_accepts_safetensors_by_content():
    uploaded = _upload("lora.safetensors", make_safetensors(seed=1))
    detected = inspect_model_upload(uploaded)
    assert detected.format == "SafeTensor"
    assert detected.precision == "fp16"
    assert uploaded.tell() == 0  # rewound for whoever stores it next


def test_inspect_rejects_png_named_ckpt():
    # BAD_INPUTS row 6.
    with pytest.raises(ValidationError):
        inspect_model_upload(_upload("x.ckpt", make_image(seed=1, size=(16, 16))))


def test_inspect_rejects_empty_file():
    with pytest.raises(ValidationError, match="empty"):
        inspect_model_upload(_upload("x.safetensors", b""))


def test_inspect_rejects_unknown_extension():
    with pytest.raises(ValidationError, match="not accepted"):
        inspect_model_upload(_upload("x.exe", make_safetensors(seed=1)))


def test_inspect_accepts_yaml_config():
    detected = inspect_model_upload(_upload("v1-inference.yaml", b"model:\n  target: ldm\n"))
    assert detected.format == "Other"


def test_inspect_rejects_binary_named_yaml():
    with pytest.raises(ValidationError, match="not UTF-8 text|not a text config"):
        inspect_model_upload(_upload("config.yaml", make_safetensors(seed=1)))


def test_inspect_accepts_large_yaml_config_with_cjk_text():
    # Over the 64 KB sample, with 3-byte characters so the sample ends inside one.
    line = "# \u6a21\u578b\u8bbe\u7f6e\u8bf4\u660e\n".encode()  # 2 + 18 + 1 = 21 bytes
    body = b"model:\n" + line * 4000
    assert len(body) > 64 * 1024
    # The 64 KB sample really does end inside a character, and is UTF-8 up to there.
    sample = body[: 64 * 1024]
    assert sample.decode("utf-8", errors="ignore").encode() != sample
    assert sample[:-1].decode("utf-8")
    detected = inspect_model_upload(_upload("config.yaml", body))
    assert detected.format == "Other"
