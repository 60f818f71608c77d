"""Language from `?lang=` or the browser, never from or into a cookie (PRV-PUB-1).

Django's LocaleMiddleware picks the language from Accept-Language (it would
read a language cookie too, but nothing ever sets one). `query_language` lets
a `lang` parameter in the address override that for the one request.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.utils import translation


def query_language(view):
    codes = {code for code, _name in settings.LANGUAGES}

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        lang = request.GET.get("lang", "")
        if lang not in codes:
            return view(request, *args, **kwargs)
        previous = translation.get_language()
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        try:
            response = view(request, *args, **kwargs)
            response.headers["Content-Language"] = lang
            return response
        finally:
            translation.activate(previous)

    return wrapper
