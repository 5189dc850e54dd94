from __future__ import annotations

import re
import uuid

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from models_hub.choices import CommercialUse, ModelType, NsfwLevel
from models_hub.formats.images import ImageRejected, process_upload
from models_hub.links import model_link
from models_hub.models import BaseModel, License, ModelVersion
from models_hub.params import parse_id
from models_hub.services import ExternalParent
from models_hub.uploads import uploads_for_version
from models_hub.validation import inspect_model_upload, license_permission_errors

_SHA_LIKE = re.compile(r"^[0-9a-fA-F]{8,64}$")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, max_count: int, **kwargs) -> None:
        self.max_count = max_count
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if self.required and not files:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(files) > self.max_count:
            raise ValidationError(
                ngettext(
                    "At most %(count)d file can be uploaded at once.",
                    "At most %(count)d files can be uploaded at once.",
                    self.max_count,
                )
                % {"count": self.max_count}
            )
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


def _files_per_version_error() -> str:
    limit = settings.HUB_MAX_MODEL_FILES
    return ngettext(
        "At most %(count)d file per version.", "At most %(count)d files per version.", limit
    ) % {"count": limit}


def _split_words(raw: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", raw or "") if part.strip()]


class UploadForm(forms.Form):
    """Everything a creator gives for a new model and its first version, on one page."""

    # The model
    name = forms.CharField(max_length=200, label=gettext_lazy("Name"))
    type = forms.ChoiceField(choices=ModelType.choices, label=gettext_lazy("Type"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=50_000,
        required=False,
        label=gettext_lazy("Description"),
        help_text=gettext_lazy(
            "Markdown. Links and basic formatting are kept; scripts are removed."
        ),
    )
    tags = forms.CharField(
        max_length=1000,
        required=False,
        label=gettext_lazy("Tags"),
        help_text=gettext_lazy("Comma-separated."),
    )
    # The version
    version_name = forms.CharField(
        max_length=100, initial="v1.0", label=gettext_lazy("Version name")
    )
    base_model = forms.ModelChoiceField(
        queryset=BaseModel.objects.all(), empty_label=None, label=gettext_lazy("Base model")
    )
    trained_words = forms.CharField(
        max_length=2000,
        required=False,
        label=gettext_lazy("Trained words"),
        help_text=gettext_lazy("Trigger words, comma-separated."),
    )
    version_description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=50_000,
        required=False,
        label=gettext_lazy("Version description"),
    )
    nsfw_level = forms.TypedChoiceField(
        choices=[(level.value, level.label) for level in NsfwLevel.viewable()],
        coerce=int,
        initial=NsfwLevel.PG,
        label=gettext_lazy("Content rating"),
        help_text=gettext_lazy("The most explicit content the model or its sample images show."),
    )
    # The license
    license = forms.ModelChoiceField(
        queryset=License.objects.all(),
        empty_label=gettext_lazy("Choose…"),
        label=gettext_lazy("License"),
    )
    license_other_url = forms.URLField(
        assume_scheme="https",
        required=False,
        max_length=500,
        label=gettext_lazy("License link (for “Other”)"),
    )
    license_other_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=20_000,
        label=gettext_lazy("License text (for “Other”)"),
    )
    allow_commercial_use = forms.ChoiceField(
        choices=CommercialUse.choices,
        initial=CommercialUse.NONE,
        label=gettext_lazy("Commercial use you allow"),
    )
    allow_no_credit = forms.BooleanField(
        required=False, label=gettext_lazy("Users may use it without crediting me")
    )
    allow_derivatives = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Others may share merges and fine-tunes of it"),
    )
    allow_different_license = forms.BooleanField(
        required=False, label=gettext_lazy("Derivatives may use a different license")
    )
    # Lineage
    parent_version_ids = forms.CharField(
        required=False,
        max_length=500,
        label=gettext_lazy("Parent models on this hub"),
        help_text=gettext_lazy(
            "Version ids or links to their pages, comma-separated (for merges and fine-tunes)."
        ),
    )
    external_parents = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        label=gettext_lazy("Parent models elsewhere"),
        help_text=gettext_lazy(
            "One per line: name | SHA256 or AutoV2 hash | link (hash and link optional)."
        ),
    )
    # Content: files sent with the form, or sent ahead by the page's resumable uploader.
    model_files = MultipleFileField(
        max_count=settings.HUB_MAX_MODEL_FILES, required=False, label=gettext_lazy("Model files")
    )
    upload_ids = forms.CharField(required=False, widget=forms.HiddenInput, max_length=4000)
    images = MultipleFileField(
        max_count=settings.HUB_MAX_GALLERY_IMAGES,
        required=False,
        label=gettext_lazy("Images"),
        help_text=gettext_lazy("PNG, JPEG or WebP sample images. Location data is removed."),
    )
    publish = forms.BooleanField(
        required=False, initial=True, label=gettext_lazy("Publish when processing is finished")
    )

    def __init__(self, *args, user, **kwargs) -> None:
        self.user = user
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_tags(self) -> list[str]:
        return _split_words(self.cleaned_data["tags"])

    def clean_trained_words(self) -> list[str]:
        return _split_words(self.cleaned_data["trained_words"])

    def clean_parent_version_ids(self) -> list[ModelVersion]:
        """Version ids, links with ?version=N, or model links (their newest version)."""
        visible = ModelVersion.objects.visible_to(self.user).select_related("model")
        parents: list[ModelVersion] = []
        for token in _split_words(self.cleaned_data["parent_version_ids"]):
            link = None if token.isascii() and token.isdigit() else model_link(token)
            if link is None and not (token.isascii() and token.isdigit()):
                raise ValidationError(
                    _(
                        "“%(token)s” is not a version id or a link to a model on this hub "
                        "(name models from other sites under parents elsewhere)."
                    )
                    % {"token": token[:60]}
                )
            if link is None or link.version_id:
                version_id = link.version_id if link else parse_id(token)
                parent = visible.filter(pk=version_id).first() if version_id else None
            else:
                parent = (
                    visible.filter(model_id=link.model_id).order_by("-created_at", "-id").first()
                )
            if parent is None:
                raise ValidationError(
                    _("“%(token)s”: no such model version on this hub.") % {"token": token[:60]}
                )
            if parent not in parents:
                parents.append(parent)
        return parents

    def clean_external_parents(self) -> list[ExternalParent]:
        parents = []
        for line in (self.cleaned_data["external_parents"] or "").splitlines():
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            name = parts[0][:200]
            if not name:
                raise ValidationError(
                    _("“%(line)s”: give the parent model's name first.") % {"line": line[:60]}
                )
            digest = parts[1] if len(parts) > 1 else ""
            link = parts[2] if len(parts) > 2 else ""
            if digest and not _SHA_LIKE.match(digest):
                raise ValidationError(
                    _("“%(hash)s” is not a SHA256 or AutoV2 hash.") % {"hash": digest[:70]}
                )
            if link:
                forms.URLField(assume_scheme="https", max_length=500).clean(link)
            parents.append(ExternalParent(name=name, external_hash=digest, external_url=link))
        return parents

    def clean_model_files(self) -> list:
        files = self.cleaned_data["model_files"]
        errors = []
        for uploaded in files:
            try:
                inspect_model_upload(uploaded)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return files

    def clean_upload_ids(self) -> list:
        ids = [part.strip() for part in self.cleaned_data["upload_ids"].split(",") if part.strip()]
        if len(ids) > settings.HUB_MAX_MODEL_FILES:
            raise ValidationError(_files_per_version_error())
        try:
            ids = [str(uuid.UUID(i)) for i in ids]
        except ValueError:
            raise ValidationError(
                _("An uploaded file was not recognised; upload it again.")
            ) from None
        try:
            return uploads_for_version(owner=self.user, upload_ids=ids)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def clean_images(self) -> list:
        processed, errors = [], []
        for uploaded in self.cleaned_data["images"]:
            if uploaded.size > settings.HUB_MAX_IMAGE_BYTES:
                errors.append(
                    _("“%(name)s” is larger than the image size limit.")
                    % {"name": uploaded.name[:80]}
                )
                continue
            try:
                processed.append(process_upload(uploaded, max_pixels=settings.HUB_MAX_IMAGE_PIXELS))
            except ImageRejected as exc:
                errors.append(f"“{uploaded.name[:80]}”: {exc}")
        if errors:
            raise ValidationError(errors)
        return processed

    def clean(self) -> dict:
        data = super().clean()
        if (
            not data.get("model_files")
            and not data.get("upload_ids")
            and not (self.has_error("model_files") or self.has_error("upload_ids"))
        ):
            self.add_error("model_files", _("Add at least one model file."))
        total = len(data.get("model_files") or []) + len(data.get("upload_ids") or [])
        if total > settings.HUB_MAX_MODEL_FILES:
            self.add_error("model_files", _files_per_version_error())
        license = data.get("license")
        if license is not None and "allow_commercial_use" in data:
            problems = license_permission_errors(
                license=license,
                allow_commercial_use=data["allow_commercial_use"],
                allow_no_credit=data.get("allow_no_credit", False),
                allow_derivatives=data.get("allow_derivatives", False),
                allow_different_license=data.get("allow_different_license", False),
                license_other_url=data.get("license_other_url", ""),
                license_other_text=data.get("license_other_text", ""),
            )
            for field, message in problems.items():
                self.add_error(field, message)
        return data

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data["parent_versions"] = data.pop("parent_version_ids")
        data["model_files"] = data["model_files"] + data.pop("upload_ids")
        return data


MODEL_LEVEL_FIELDS = (
    "name", "type", "description", "tags", "license", "license_other_url", "license_other_text",
    "allow_commercial_use", "allow_no_credit", "allow_derivatives", "allow_different_license",
)  # fmt: skip


class VersionUploadForm(UploadForm):
    """A new version of an existing model: the model's name, tags and license stay as they are."""

    def __init__(self, *args, model, **kwargs) -> None:
        self.model = model
        super().__init__(*args, **kwargs)
        for name in MODEL_LEVEL_FIELDS:
            del self.fields[name]
        self.fields["version_name"].initial = ""

    def service_arguments(self) -> dict:
        data = super().service_arguments()
        model = self.model
        data.update(
            model=model,
            name=model.name,
            type=model.type,
            description=model.description,
            tags=list(model.tags.values_list("name", flat=True)),
            license=model.license,
            license_other_url=model.license_other_url,
            license_other_text=model.license_other_text,
            allow_commercial_use=model.allow_commercial_use,
            allow_no_credit=model.allow_no_credit,
            allow_derivatives=model.allow_derivatives,
            allow_different_license=model.allow_different_license,
        )
        return data
