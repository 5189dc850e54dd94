from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from community.models import MAX_PROFILE_LINKS, User
from models_hub.choices import NsfwLevel


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Needed to reset a forgotten password; never shown to others.
        self.fields["email"].required = True
        self.fields["email"].help_text = _("For password resets and moderation notices only.")


class ProfileForm(forms.Form):
    """Shape only; profile_update checks the links and the picture and saves."""

    avatar = forms.FileField(
        label=_("Profile picture"),
        required=False,
        help_text=_("PNG, JPEG or WebP. It is cropped to a square; nothing but pixels is kept."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_avatar = forms.BooleanField(label=_("Remove the current picture"), required=False)
    bio = forms.CharField(
        label=_("Bio"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Markdown: **bold**, _italic_, [links](https://example.com), lists."),
    )
    links = forms.CharField(
        label=_("Links"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built here, in the request's language: a lazy text formatted at import would be
        # fixed in English.
        self.fields["links"].help_text = gettext("One web address per line, at most %(count)d.") % {
            "count": MAX_PROFILE_LINKS
        }

    def link_list(self) -> list[str]:
        return self.cleaned_data["links"].splitlines()


def level_choices() -> list[tuple[int, str]]:
    return [(int(level), level.label) for level in NsfwLevel.viewable()]


class BrowsingForm(forms.Form):
    levels = forms.TypedMultipleChoiceField(
        label=_("Ratings to show"),
        choices=level_choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("PG is always shown. R and above contain nudity or sexual content."),
    )
    above_level = forms.ChoiceField(
        label=_("Content rated above that"),
        choices=User.AboveLevel.choices,
        widget=forms.RadioSelect,
    )

    def level_mask(self) -> int:
        mask = 0
        for level in self.cleaned_data["levels"]:
            mask |= level
        return mask


class CollectionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    is_public = forms.BooleanField(
        label=_("Public (anyone can see it on your profile)"), required=False, initial=True
    )


class ReviewForm(forms.Form):
    recommended = forms.TypedChoiceField(
        label=_("Your verdict"),
        choices=[("1", _("Recommend")), ("0", _("Don't recommend"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Review"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
