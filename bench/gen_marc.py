"""Generate N synthetic MARC records shaped like the real ones (ISO 2709, UTF-8).

The templates are the records of ../shared/data/marc/demo_catalogue_utf8.mrc
(or the bundled fictional sample when that is missing): record i copies the
fields, indicators and lengths of template i mod T, and gets its own control
number, a shuffled title, a fresh valid ISBN (when the template has one) and
unique item barcodes. Nothing personal: names come from the templates.

    python bench/gen_marc.py --records 100000 --output /tmp/bench.mrc
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO.parent / "shared" / "data" / "marc" / "demo_catalogue_utf8.mrc"
WORDS = (
    "lantern fjord river winter harbour quiet library island north glacier song story "
    "history music garden clock paper moth tide lighthouse journey forest snow bridge"
).split()


def _templates() -> list[dict]:
    sys.path.insert(0, str(REPO / "src"))
    from quietshelf.catalog.marc import read_marc, record_to_json

    if DEMO.exists():
        with open(DEMO, "rb") as fh:
            return [record_to_json(r.record) for r in read_marc(fh) if r.ok]
    from quietshelf.catalog.sample import sample_records

    return [record_to_json(r) for r in sample_records()]


def _isbn(n: int) -> str:
    from stdnum import ean

    stem = f"979890{n:06d}"[-12:]
    return stem + ean.calc_check_digit(stem)


def generate(records: int, output: Path, *, seed: int = 42) -> Path:
    sys.path.insert(0, str(REPO / "src"))
    from quietshelf.catalog.marc.records import record_from_json, record_to_iso2709

    rng = random.Random(seed)
    templates = _templates()
    with open(output, "wb") as out:
        for i in range(records):
            t = templates[i % len(templates)]
            fields = []
            barcode = 0
            for entry in t["fields"]:
                ((tag, value),) = entry.items()
                if tag == "001":
                    value = f"BENCH{i:08d}"
                elif tag == "003":
                    value = "QSBENCH"
                elif isinstance(value, dict):
                    subs = [dict(s) for s in value["subfields"]]
                    if tag == "245":
                        for s in subs:
                            if "a" in s:
                                words = s["a"].split()
                                words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
                                s["a"] = " ".join(words)
                    elif tag == "020":
                        subs = [{"a": _isbn(i)} if "a" in s else s for s in subs]
                    elif tag == "035":
                        subs = [{"a": f"(QSBENCH){i}"} if "a" in s else s for s in subs]
                    elif tag in ("952", "876") or (tag == "852" and any("p" in s for s in subs)):
                        barcode += 1
                        subs = [{"p": f"B{i:08d}{barcode:02d}"} if "p" in s else s for s in subs]
                    value = {**value, "subfields": subs}
                fields.append({tag: value})
            if not any("001" in f for f in fields):
                fields.insert(0, {"001": f"BENCH{i:08d}"})
            out.write(
                record_to_iso2709(record_from_json({"leader": t["leader"], "fields": fields}))
            )
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--output", default="bench-records.mrc")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    path = generate(args.records, Path(args.output), seed=args.seed)
    print(f"wrote {args.records} records to {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
