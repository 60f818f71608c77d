"""Public catalogue pages: no login, no cookie, no third-party asset (PRV-PUB-1).

Views are thin: parse the request, call the search service or a selector,
render. No page here writes to the session or uses a CSRF token, so a
visitor gets no cookie at all. Search text is never logged (PRV-SEP-1): the
request log holds the route pattern only.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from quietshelf.catalog.search import (
    FACETS,
    NoSearchTerms,
    SearchQuery,
    clean_text,
    public_search_done,
    ratelimit,
    search,
)
from quietshelf.core.errors import InvalidInput, NotFound, RateLimited
from quietshelf.opac import labels, selectors
from quietshelf.opac.i18n import query_language

PAGE_SIZE = 20
FILTER_PARAMS = FACETS  # format, language, era, branch, available


def _base_params(request) -> list[tuple[str, str]]:
    """The parameters that carry over to every link: the query, filters, sort, lang."""
    params: list[tuple[str, str]] = []
    if "q" in request.GET:
        params.append(("q", clean_text(request.GET.get("q", ""))))
    for name in FILTER_PARAMS:
        for value in request.GET.getlist(name)[:20]:
            params.append((name, value))
    sort = request.GET.get("sort")
    if sort in labels.SORTS:
        params.append(("sort", sort))
    lang = request.GET.get("lang")
    if lang:
        params.append(("lang", lang))
    return params


def _url(params: list[tuple[str, str]]) -> str:
    return "?" + urlencode(params) if params else "?"


def _toggle(params, name: str, value: str) -> str:
    pair = (name, value)
    if pair in params:
        return _url([p for p in params if p != pair])
    return _url([*params, pair])


def _page_url(params, page: int) -> str:
    return _url([*params, ("page", str(page))] if page > 1 else params)


def _lang_links(request) -> list[dict]:
    from django.conf import settings

    params = [(k, v) for k, v in request.GET.items() if k != "lang"]
    current = request.LANGUAGE_CODE
    return [
        {
            "code": code,
            "name": name,
            "url": _url([*params, ("lang", code)]),
            "current": code == current,
        }
        for code, name in settings.LANGUAGES
    ]


def _rate_limited(request, exc: RateLimited):
    response = render(
        request,
        "opac/ratelimited.html",
        {"message": exc.message, "lang_links": _lang_links(request)},
        status=429,
    )
    response["Retry-After"] = str(exc.details.get("retry_after", 60))
    return response


@query_language
def search_page(request):
    params = _base_params(request)
    searching = "q" in request.GET or any(name in request.GET for name in FILTER_PARAMS)
    context = {
        "q": clean_text(request.GET.get("q", "")),
        "searching": searching,
        "sorts": labels.SORTS,
        "sort": request.GET.get("sort") if request.GET.get("sort") in labels.SORTS else "",
        "lang_links": _lang_links(request),
        "hidden": [(k, v) for k, v in params if k not in {"q", "sort"}],
    }
    if not searching:
        return render(request, "opac/search.html", context)
    try:
        ratelimit.check(request)
    except RateLimited as exc:
        return _rate_limited(request, exc)
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    filters = {name: request.GET.getlist(name)[:20] for name in FILTER_PARAMS}
    query = SearchQuery(
        text=context["q"],
        filters={k: v for k, v in filters.items() if v},
        sort=context["sort"] or ("relevance" if request.GET.get("q", "").strip() else "title"),
        page=max(1, min(page, 10_000)),
        page_size=PAGE_SIZE,
    )
    try:
        result = search(query)
    except InvalidInput as exc:
        context["error"] = exc.message
        # no search terms is an answer, not a bad request
        status = 200 if isinstance(exc, NoSearchTerms) else 400
        return render(request, "opac/search.html", context, status=status)
    if query.page == 1:  # a new search, not the next page of one (counted in aggregate)
        public_search_done(query, result)

    facets = []
    for name in ("available", "format", "language", "era", "branch"):
        values = result.facets.get(name) or []
        if not values:
            continue
        facets.append(
            {
                "name": name,
                "title": labels.FACET_TITLES[name],
                "values": [
                    {
                        "label": labels.facet_label(name, fv.value, fv.label),
                        "count": fv.count,
                        "selected": fv.selected,
                        "url": _toggle(params, name, fv.value),
                    }
                    for fv in values[:30]
                ],
            }
        )
    selected = [
        {"label": labels.facet_label(n, v, v), "url": _toggle(params, n, v)}
        for n, v in params
        if n in FILTER_PARAMS
    ]
    pages = result.pages
    context.update(
        {
            "result": result,
            "records": selectors.record_summaries(result.record_ids),
            "facets": facets,
            "selected": selected,
            "first_number": (result.page - 1) * result.page_size + 1,
            "prev_url": _page_url(params, result.page - 1) if result.page > 1 else "",
            "next_url": _page_url(params, result.page + 1) if result.page < pages else "",
            "page_links": [
                {"number": n, "url": _page_url(params, n), "current": n == result.page}
                for n in range(max(1, result.page - 3), min(pages, result.page + 3) + 1)
            ],
            "pages": pages,
            "first_page_url": _page_url(params, 1),
            "formats": labels.FORMATS,
        }
    )
    return render(request, "opac/search.html", context)


def _get_record(record_id: int):
    try:
        return selectors.public_record(record_id)
    except NotFound as exc:
        raise Http404(_("No such record.")) from exc


@query_language
def record_page(request, record_id: int):
    record = _get_record(record_id)
    items = selectors.public_items(record)
    due, holds_count = selectors.copy_details(record, items)
    branches = selectors.branch_availability([record.pk]).get(record.pk, [])
    lang = request.GET.get("lang")
    extra = [("lang", lang)] if lang else []
    subjects = [
        {"label": s, "url": _url([("q", f'subject:"{s}"'), *extra])}
        for s in _strings(record.subjects)
    ]
    context = {
        "record": record,
        "contributors": [
            {**c, "role_label": labels.role_label(str(c.get("role") or ""))}
            for c in (record.contributors or [])
            if isinstance(c, dict) and c.get("name")
        ],
        "subjects": subjects,
        "series": _strings(record.series),
        "notes": _strings(record.notes),
        "isbns": [
            {**i, "value": selectors.clean_identifier(i.get("value"))}
            for i in record.isbns or []
            if isinstance(i, dict)
        ],
        "issns": [
            {**i, "value": selectors.clean_identifier(i.get("value"))}
            for i in record.issns or []
            if isinstance(i, dict)
        ],
        "original": selectors.original_script(record),
        "holds_count": holds_count,
        "links": selectors.safe_links(record),
        "items": [(item, labels.status_label(item.status), due.get(item.pk)) for item in items],
        "branches": branches,
        "format_label": labels.FORMATS.get(record.format, record.format),
        "language_label": labels.LANGUAGES.get(record.language, record.language),
        "lang_links": _lang_links(request),
        "lang_param": _url(extra) if extra else "",
    }
    return render(request, "opac/record.html", context)


@query_language
def marc_page(request, record_id: int):
    record = _get_record(record_id)
    lang = request.GET.get("lang")
    context = {
        "record": record,
        "lines": selectors.marc_lines(record),
        "lang_links": _lang_links(request),
        "lang_param": _url([("lang", lang)]) if lang else "",
    }
    return render(request, "opac/marc.html", context)


def _strings(value) -> list[str]:
    from quietshelf.catalog.search.documents import _texts

    out: list[str] = []
    for entry in value or []:
        if isinstance(entry, str):
            text = entry
        else:
            text = " -- ".join(_texts(entry)) if isinstance(entry, dict) else str(entry)
        if text and text not in out:
            out.append(text)
    return out
