"""OAI-PMH 2.0 requests: arguments, dates, resumption tokens. No ORM here.

Resumption tokens are a signed cursor, not an offset and not server state:
the verb, the harvest's arguments and the id of the last record sent,
signed with the site's SECRET_KEY (django.core.signing, HMAC-SHA256) and
timestamped. A token survives a restart, cannot be forged or edited, stays
valid while records are added, changed or deleted (the next page starts
after the last id sent, whatever happened before it), and expires after
QUIETSHELF_OAI_TOKEN_DAYS.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.core import signing

VERBS = (
    "Identify",
    "ListMetadataFormats",
    "ListSets",
    "ListIdentifiers",
    "ListRecords",
    "GetRecord",
)
# verb -> (required, optional, exclusive)
ARGUMENTS: dict[str, tuple[frozenset, frozenset, str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
}
MAX_ARGUMENT_CHARS = 2000
TOKEN_SALT = "quietshelf.interop.oai.resumption"  # noqa: S105  (a namespace, not a secret)
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")


class OAIError(Exception):
    """One of the protocol's error conditions (sent with HTTP 200, as OAI-PMH says)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Harvest:
    """What a List request asks for; a resumption token carries it on."""

    verb: str
    prefix: str
    set_spec: str = ""
    start: dt.datetime | None = None  # inclusive
    end: dt.datetime | None = None  # exclusive (until + its granularity)
    after_id: int = 0  # the last record id already sent
    cursor: int = 0  # how many were sent before this page
    total: int | None = None  # completeListSize, counted on the first page


@dataclass(frozen=True)
class OAIRequest:
    verb: str
    arguments: dict[str, str] = field(default_factory=dict)
    harvest: Harvest | None = None


def parse_request(pairs: list[tuple[str, str]], *, max_age_days: int) -> OAIRequest:
    """Check a request's arguments (the query string or form body, in order).

    Raises OAIError: badVerb, badArgument, badResumptionToken.
    """
    verbs = [v for k, v in pairs if k == "verb"]
    if not verbs:
        raise OAIError("badVerb", "The verb argument is missing.")
    if len(verbs) > 1:
        raise OAIError("badVerb", "The verb argument is repeated.")
    verb = verbs[0]
    if verb not in VERBS:
        raise OAIError("badVerb", f"Illegal OAI verb: {verb[:100]}")
    args: dict[str, str] = {}
    for key, value in pairs:
        if key == "verb":
            continue
        if key in args:
            raise OAIError("badArgument", f"The argument {key[:50]} is repeated.")
        if len(value) > MAX_ARGUMENT_CHARS:
            raise OAIError("badArgument", f"The argument {key[:50]} is too long.")
        args[key] = value
    required, optional, exclusive = ARGUMENTS[verb]
    allowed = required | optional | ({exclusive} if exclusive else set())
    for key in args:
        if key not in allowed:
            raise OAIError("badArgument", f"Illegal argument for {verb}: {key[:50]}")
    if exclusive and exclusive in args:
        if len(args) > 1:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument.")
        harvest = decode_token(args[exclusive], verb=verb, max_age_days=max_age_days)
        return OAIRequest(verb, args, harvest)
    for key in sorted(required):
        if not args.get(key):
            raise OAIError("badArgument", f"{verb} needs the argument {key}.")
    if verb not in ("ListIdentifiers", "ListRecords"):
        return OAIRequest(verb, args)
    start = end = None
    if "from" in args:
        start = parse_datestamp(args["from"], "from")
    if "until" in args:
        end = parse_datestamp(args["until"], "until", until=True)
        if end == dt.datetime.max.replace(tzinfo=dt.UTC):
            end = None  # until the end of 9999: no upper bound
    if "from" in args and "until" in args:
        if _granularity(args["from"]) != _granularity(args["until"]):
            raise OAIError("badArgument", "from and until must have the same granularity.")
        if start >= end:
            raise OAIError("badArgument", "from is later than until.")
    return OAIRequest(
        verb,
        args,
        Harvest(verb, args["metadataPrefix"], args.get("set", ""), start, end),
    )


def _granularity(value: str) -> str:
    return "day" if _DAY.match(value) else "second"


def parse_datestamp(value: str, name: str, *, until: bool = False) -> dt.datetime:
    """A UTC datestamp in either of the repository's granularities.

    For until, the end of that day or second (exclusive), so until is inclusive.
    """
    try:
        if _DAY.match(value):
            day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            step = dt.timedelta(days=1)
        elif _SECOND.match(value):
            day = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            step = dt.timedelta(seconds=1)
        else:
            raise ValueError(value)
        if not until:
            return day
        try:
            return day + step
        except OverflowError:
            return dt.datetime.max.replace(tzinfo=dt.UTC)
    except ValueError:
        pass
    raise OAIError(
        "badArgument",
        f"{name} must be a UTC date as YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ.",
    )


def datestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).isoformat() if moment else ""


def encode_token(harvest: Harvest) -> str:
    payload = {
        "v": harvest.verb,
        "m": harvest.prefix,
        "s": harvest.set_spec,
        "f": _iso(harvest.start),
        "u": _iso(harvest.end),
        "a": harvest.after_id,
        "c": harvest.cursor,
        "t": harvest.total,
    }
    return signing.dumps(payload, salt=TOKEN_SALT, compress=True)


def decode_token(token: str, *, verb: str, max_age_days: int) -> Harvest:
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=dt.timedelta(days=max_age_days))
    except signing.SignatureExpired:
        raise OAIError("badResumptionToken", "The resumption token has expired.") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise OAIError("badResumptionToken", "The resumption token is not valid.") from None
    try:
        if data["v"] != verb:
            raise OAIError("badResumptionToken", f"The resumption token is not for {verb}.")
        return Harvest(
            verb=verb,
            prefix=str(data["m"]),
            set_spec=str(data["s"]),
            start=dt.datetime.fromisoformat(data["f"]) if data["f"] else None,
            end=dt.datetime.fromisoformat(data["u"]) if data["u"] else None,
            after_id=int(data["a"]),
            cursor=int(data["c"]),
            total=None if data["t"] is None else int(data["t"]),
        )
    except (KeyError, TypeError, ValueError):
        raise OAIError("badResumptionToken", "The resumption token is not valid.") from None


def token_expiry(now: dt.datetime, max_age_days: int) -> str:
    return datestamp(now + dt.timedelta(days=max_age_days))
