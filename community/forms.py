from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm

from community.models import User


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
