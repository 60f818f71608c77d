"""A small bundled catalogue of FICTIONAL records, for `make demo` without ../shared/data.

Every title, person and publisher here is made up. ``sample_records()`` builds
the records as pymarc objects; ``sample_marc_bytes()`` gives them as ISO 2709
(UTF-8); ``write_sample(path)`` writes that to a file.
"""

from __future__ import annotations

from pathlib import Path

from pymarc import Field, Indicators, Record, Subfield

from quietshelf.catalog.marc.records import record_to_iso2709

# (title, subtitle, author, year, language, publisher, place, subjects, kind, isbn)
_BOOKS = [
    ("Lanterns over Vinterfjord", "a novel", "Brekke, Solveig", 2019, "eng", "Quietwater Press",
     "Bergen", ["Fjords -- Fiction", "Lighthouses -- Fiction"], "book", "auto"),
    ("Sjøen husker alt", "roman", "Aasmundsen, Kåre", 2021, "nob", "Fjellbok forlag",
     "Tromsø", ["Kystkultur -- Skjønnlitteratur"], "book", "auto"),
    ("Blåbærturen", "", "Hølaas, Åsne", 2017, "nob", "Fjellbok forlag", "Oslo",
     ["Barn -- Bildebøker", "Skog"], "book", ""),
    ("The clockmaker's seventh apprentice", "", "Thorne, Adelia", 2015, "eng",
     "Brass Key Books", "London", ["Clocks and watches -- Fiction", "Apprentices -- Fiction"],
     "book", "auto"),
    ("Grønnsaker på balkongen", "en håndbok", "Lien, Øystein", 2020, "nob", "Hagelyst",
     "Trondheim", ["Grønnsakdyrking", "Balkonghager"], "book", ""),
    ("A field guide to imaginary moths", "", "Pemberton-Okafor, Ines", 2012, "eng",
     "Moonlit Academic", "Edinburgh", ["Moths -- Identification -- Humor"], "book", "auto"),
    ("Under isbreen", "noveller", "Fjærli, Bård", 2009, "nob", "Nordlys forlag", "Bodø",
     ["Isbreer -- Noveller"], "book", ""),
    ("Recipes from a lighthouse kitchen", "", "Marlowe, Cecily", 2018, "eng", "Quietwater Press",
     "Bergen", ["Cooking, Norwegian", "Fish cooking"], "book", "auto"),
    ("Stille bibliotek", "dikt", "Ødegård, Mille", 2022, "nob", "Ordskog", "Oslo",
     ["Biblioteker -- Dikt"], "book", ""),
    ("The quiet algorithm", "privacy for small institutions", "Varga, Tomas", 2023, "eng",
     "Brass Key Books", "London", ["Privacy", "Libraries -- Data processing"], "book", ""),
    ("Reisen til Måneøya", "", "Kvåle, Tiril", 2016, "nob", "Fjellbok forlag", "Oslo",
     ["Eventyr", "Øyer -- Skjønnlitteratur"], "book", ""),
    ("Winter migrations of the paper crane", "", "Holloway, Jun", 2011, "eng",
     "Moonlit Academic", "Edinburgh", ["Origami -- Fiction"], "book", "auto"),
    ("Knitting patterns for lighthouse keepers", "", "Strand, Guri", 2014, "eng",
     "Hagelyst", "Trondheim", ["Knitting -- Patterns"], "book", ""),
    ("Elvas sang", "", "Bjørnstad, Håkon", 2005, "nno", "Nordlys forlag", "Bodø",
     ["Elver -- Skjønnlitteratur"], "book", ""),
    ("An atlas of forgotten islands", "", "Quill, Marisol", 2010, "eng", "Compass Rose Maps",
     "Bristol", ["Islands -- Maps"], "map", ""),
    ("Songs from the reading room", "", "The Hushed Ensemble", 2019, "eng", "Papertrail Records",
     "Oslo", ["Folk music -- Norway"], "music", ""),
    ("The lantern keeper", "", "Rowan, Elise", 2021, "eng", "Silverframe Films", "Bergen",
     ["Lighthouses -- Drama"], "video", ""),
    ("Journal of imaginary librarianship", "", "", 2001, "eng", "Quietwater Press", "Bergen",
     ["Library science -- Periodicals"], "serial", ""),
    ("Fortellinger fra fyret", "lydbok", "Aasmundsen, Kåre", 2022, "nob", "Lydspor", "Tromsø",
     ["Fyr -- Lydbøker"], "audio", ""),
    ("हिमालको उज्यालो बत्ती", "", "श्रेष्ठ, अनिता", 2018, "nep", "कल्पना प्रकाशन", "काठमाडौं",
     ["नेपाली साहित्य"], "book", ""),
    ("Midnight at the reading room", "", "Castellane, Noor", 2020, "eng", "Brass Key Books",
     "London", ["Libraries -- Fiction", "Mystery fiction"], "book", ""),
    ("Frost og fyrstikker", "", "Haugå, Ingrid", 2013, "nob", "Ordskog", "Oslo",
     ["Vinter -- Skjønnlitteratur"], "book", ""),
    ("The cartographer's daughter", "", "Ibsen-Wolde, Marta", 2008, "eng", "Compass Rose Maps",
     "Bristol", ["Mapmakers -- Fiction"], "book", "9780306406150"),
    ("Små steg i snøen", "", "Nærø, Vilde", 2024, "nob", "Fjellbok forlag", "Oslo",
     ["Barn -- Bildebøker", "Snø"], "book", ""),
    ("Tides and tidings", "essays on coastal life", "Brekke, Solveig", 2024, "eng",
     "Quietwater Press", "Bergen", ["Coastal ecology", "Essays"], "book", ""),
]  # fmt: skip

_LEADER_TYPE = {
    "book": "nam", "map": "nem", "music": "njm", "video": "ngm", "serial": "nas",
    "audio": "nim",
}  # fmt: skip

# branch, item type, location for the items of some records (Koha-style 952).
_BRANCHES = ["SENTRUM", "FJORD", "HAVN"]


def _subfields(pairs) -> list[Subfield]:
    return [Subfield(code, value) for code, value in pairs if value]


def sample_records() -> list[Record]:
    records: list[Record] = []
    for n, book in enumerate(_BOOKS, start=1):
        title, subtitle, author, year, lang, publisher, place, subjects, kind, isbn = book
        rec = Record(force_utf8=True, to_unicode=True)
        rec.leader = f"00000{_LEADER_TYPE[kind]} a2200000 i 4500"
        rec.add_field(Field(tag="001", data=f"QSDEMO{n:04d}"))
        rec.add_field(Field(tag="003", data="QSDEMO"))
        rec.add_field(Field(tag="008", data=f"240101s{year}    no            000 1 {lang} d"))
        if isbn == "auto":
            isbn = _made_up_isbn(n)
        if isbn:
            rec.add_field(
                Field(
                    tag="020", indicators=Indicators(" ", " "), subfields=_subfields([("a", isbn)])
                )
            )
        if author:
            tag = "110" if author.startswith("The ") else "100"
            rec.add_field(
                Field(
                    tag=tag,
                    indicators=Indicators("1" if tag == "100" else "2", " "),
                    subfields=_subfields([("a", author + ","), ("e", "author.")]),
                )
            )
        nonfiling = "4" if title.startswith("The ") else ("2" if title.startswith("A ") else "0")
        a = title + (" :" if subtitle else " /" if author else ".")
        parts = [("a", a)]
        if subtitle:
            parts.append(("b", subtitle + (" /" if author else ".")))
        if author:
            parts.append(("c", _display_name(author) + "."))
        rec.add_field(
            Field(tag="245", indicators=Indicators("1", nonfiling), subfields=_subfields(parts))
        )
        rec.add_field(
            Field(
                tag="264",
                indicators=Indicators(" ", "1"),
                subfields=_subfields(
                    [("a", place + " :"), ("b", publisher + ","), ("c", f"{year}.")]
                ),
            )
        )
        for subject in subjects:
            head, *subdivisions = subject.split(" -- ")
            pairs = [("a", head)] + [("x", s) for s in subdivisions]
            rec.add_field(
                Field(tag="650", indicators=Indicators(" ", "0"), subfields=_subfields(pairs))
            )
        rec.add_field(
            Field(
                tag="500",
                indicators=Indicators(" ", " "),
                subfields=[Subfield("a", "Fictional record bundled with Quietshelf for the demo.")],
            )
        )
        # every fifth record has no copies (e-resources, withdrawn titles)
        if n % 5 != 0:
            for copy in range(1 + n % 3):
                branch = _BRANCHES[(n + copy) % len(_BRANCHES)]
                rec.add_field(
                    Field(
                        tag="952",
                        indicators=Indicators(" ", " "),
                        subfields=_subfields(
                            [
                                ("a", branch),
                                ("b", branch),
                                ("c", "CHILD" if "Barn" in " ".join(subjects) else "GEN"),
                                ("o", _call_number(lang, author)),
                                ("p", f"0399{n:04d}{copy:02d}"),
                                (
                                    "y",
                                    {
                                        "map": "MAP",
                                        "music": "CD",
                                        "video": "DVD",
                                        "serial": "SERIAL",
                                        "audio": "AUDIOBOOK",
                                    }.get(kind, "BOOK"),
                                ),
                                ("g", f"{199 + n}.00"),
                            ]
                        ),
                    )
                )
        records.append(rec)
    return records


def _made_up_isbn(n: int) -> str:
    """A valid ISBN-13 in a range no real book of ours uses (the check digit is right)."""
    from stdnum import ean

    stem = f"979899{n:06d}"
    return stem + ean.calc_check_digit(stem)


def _call_number(lang: str, author: str) -> str:
    shelf = "839.82" if lang in ("nob", "nno") else "823"
    return f"{shelf} {author[:3].upper() or 'JOU'}"


def _display_name(name: str) -> str:
    if ", " in name:
        last, first = name.split(", ", 1)
        return f"{first} {last}"
    return name


def sample_marc_bytes() -> bytes:
    return b"".join(record_to_iso2709(r) for r in sample_records())


def write_sample(path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(sample_marc_bytes())
    return path
