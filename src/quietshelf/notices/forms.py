from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TemplateForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), required=False, max_length=200)
    body = forms.CharField(
        label=_("Text"), widget=forms.Textarea(attrs={"rows": 12}), max_length=5000
    )

    def __init__(self, *args, channel: str = "email", **kwargs):
        super().__init__(*args, **kwargs)
        if channel != "email":
            del self.fields["subject"]
