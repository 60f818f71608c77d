from __future__ import annotations

from django import forms


class PolicyVersionForm(forms.Form):
    version = forms.CharField(max_length=20)
    effective_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    text_markdown = forms.CharField(widget=forms.Textarea, label="Text (Markdown)")
    summary_of_changes = forms.CharField(widget=forms.Textarea, required=False)
    material = forms.BooleanField(
        required=False, help_text="Everyone is asked to acknowledge a material change."
    )


class AuditSearchForm(forms.Form):
    object_type = forms.CharField(max_length=60, required=False)
    object_id = forms.CharField(max_length=64, required=False)
    actor_id = forms.CharField(max_length=64, required=False)
