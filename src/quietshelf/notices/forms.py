from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from quietshelf.notices import defaults, sandbox


class TemplateForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), required=False, max_length=200)
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 12}),
        max_length=sandbox.MAX_LENGTH,
    )

    def __init__(self, *args, notice_type: str = "", language: str = "en", channel="email", **kw):
        super().__init__(*args, **kw)
        self.notice_type, self.language, self.channel = notice_type, language, channel
        if channel != "email":
            del self.fields["subject"]

    def clean_body(self):
        body = self.cleaned_data["body"]
        # A text message has a tighter limit than the service's default for a text
        # (SEC-TPL-1: three SMS segments), so the form checks it with the sample values.
        if self.channel == "sms" and self.notice_type in defaults.VARIABLES:
            try:
                sandbox.check(
                    body.replace("\r\n", "\n"),
                    variables=defaults.sample(self.notice_type),
                    language=self.language,
                    field="body",
                    limit=sandbox.limit_for("sms"),
                )
            except sandbox.TemplateProblem as exc:
                raise forms.ValidationError(exc.message) from None
        return body
