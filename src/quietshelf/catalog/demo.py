"""The demo library's branches (issue 17 item 11): three named branches with locations,
and the holdings map that puts the demo MARC files' item fields onto them.

The MARC files come from other libraries: their 952/852 branch values are Koha's demo
codes (MPL, FPL, CPL), institution names and free text ("Library has 4 copies.").
The known codes are mapped; everything else goes to the main library and the import
reports it, so no junk code ever becomes a branch.
"""

from __future__ import annotations

from quietshelf.catalog.models import Branch, ShelvingLocation

DEMO_BRANCHES = {
    "MAIN": "Fjordvik Main Library",
    "HAVN": "Havnegata Branch",
    "SKOL": "Skolebakken Branch",
}

DEMO_LOCATIONS = {
    "GEN": "General collection",
    "AV": "Film and music",
    "FIC": "Fiction",
    "REF": "Reference",
    "CHILD": "Children's corner",
    "DISPLAY": "New books display",
}

DEMO_HOLDINGS_MAP = {
    "branch_map": {"MPL": "MAIN", "FPL": "HAVN", "CPL": "SKOL"},
    "unknown_branch": "MAIN",
    "default_branch": "MAIN",
    "branch_names": DEMO_BRANCHES,
    "location_names": DEMO_LOCATIONS,
}


def create_demo_branches() -> list[Branch]:
    """The demo's branches and shelving locations (names kept if already there)."""
    out = []
    for code, name in DEMO_BRANCHES.items():
        branch, _ = Branch.objects.get_or_create(code=code, defaults={"name": name})
        out.append(branch)
    for code, name in DEMO_LOCATIONS.items():
        ShelvingLocation.objects.get_or_create(code=code, defaults={"name": name})
    return out
