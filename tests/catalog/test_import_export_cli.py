"""quietshelf import-marc / export-marc from the command line (CAT-1, issue 3 items 6-7)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from quietshelf.catalog.models import BibRecord, Item
from quietshelf.catalog.sample import write_sample


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "quietshelf", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(QUIETSHELF_HOME=str(tmp_path / "instance"), QUIETSHELF_ENV="test")
    return env


@pytest.fixture
def migrated_cli_env(cli_env, migrated_instances):
    """cli_env's instance as `quietshelf migrate -v 0` leaves it (copied, #14 item 8)."""
    return migrated_instances.copy_into(cli_env)


@pytest.mark.django_db
def test_import_command_prints_summary_and_errors_cat1(tmp_path):
    sample = write_sample(tmp_path / "sample.mrc")
    junk = tmp_path / "junk.mrc"
    junk.write_bytes(b"00050nam  2200000   4500" + b"x" * 10)
    out, err = io.StringIO(), io.StringIO()
    sys_stderr = sys.stderr
    sys.stderr = err
    try:
        with pytest.raises(CommandError) as exc:  # some records rejected: exit status 1
            call_command("import_marc", str(sample), str(junk), stdout=out)
        assert exc.value.returncode == 1
    finally:
        sys.stderr = sys_stderr
    line = out.getvalue().strip().splitlines()[-1]
    assert line.startswith("imported 25 records: created 25, updated 0, items ")
    assert "errors 1" in line
    assert "junk.mrc: record 1 (byte 0): truncated" in err.getvalue()
    assert BibRecord.objects.count() == 25 and Item.objects.exists()


@pytest.mark.django_db
def test_import_command_dry_run_and_match_option_cat1(tmp_path):
    sample = write_sample(tmp_path / "sample.mrc")
    out = io.StringIO()
    call_command("import_marc", str(sample), "--dry-run", "--match", "isbn,035", stdout=out)
    assert "would import 25 records" in out.getvalue() and "dry run" in out.getvalue()
    assert not BibRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/file.mrc"], "no such file"),
        (["{sample}", "--match", "title"], "unknown scheme"),
        (["{sample}", "--holdings-map", "/no/map.json"], "holdings map"),
        (["{sample}", "--holdings-map", "{badjson}"], "not valid JSON"),
    ],
)
def test_import_command_usage_errors_exit_2(tmp_path, args, message):
    sample = write_sample(tmp_path / "sample.mrc")
    badjson = tmp_path / "bad.json"
    badjson.write_text("{nope")
    args = [a.format(sample=sample, badjson=badjson) for a in args]
    with pytest.raises(CommandError) as exc:
        call_command("import_marc", *args)
    assert exc.value.returncode == 2 and message in str(exc.value)


@pytest.mark.django_db
def test_export_command_usage_errors_exit_2():
    for args in (["--ids", "1,x"], ["--since", "yesterday"], ["--output", "/no/dir/x.mrc"]):
        with pytest.raises(CommandError) as exc:
            call_command("export_marc", *args)
        assert exc.value.returncode == 2


def test_cli_missing_file_is_one_line_and_exit_2(cli_env):
    proc = _run("import-marc", "/no/such/file.mrc", env=cli_env)
    assert proc.returncode == 2
    assert "no such file: /no/such/file.mrc" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_import_export_yaz_end_to_end_cat1(migrated_cli_env, tmp_path):
    cli_env = migrated_cli_env
    sample = write_sample(tmp_path / "sample.mrc")
    proc = _run("import-marc", str(sample), env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert "imported 25 records: created 25" in proc.stdout
    out = tmp_path / "out.mrc"
    proc = _run("export-marc", "--output", str(out), env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert "exported 25 records" in proc.stderr
    assert out.read_bytes().count(b"\x1d") == 25
    assert out.read_bytes()[9:10] == b"a"  # leader/09: UTF-8
    xml = _run("export-marc", "--format", "marcxml", "--ids", "1,2", env=cli_env)
    assert xml.stdout.count("<record>") == 2 and "Blåbærturen" not in xml.stdout[:0]
    yaz = subprocess.run(["yaz-marcdump", "-n", str(out)], capture_output=True, text=True)
    assert yaz.returncode == 0 and yaz.stdout.strip() == ""


def test_cli_exit_status_tells_all_some_or_nothing_imported_cat1(
    migrated_cli_env, tmp_path, marc_dir
):
    """CAT-1: 0 when every record is taken, 1 when some are rejected, 2 when none could be."""
    cli_env = migrated_cli_env
    not_marc = tmp_path / "notes.txt"
    not_marc.write_text("these are meeting notes, not MARC records\n")
    proc = _run("import-marc", str(not_marc), env=cli_env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-400:])
    # Nothing in the file is MARC: one line that says so (issue 18).
    assert proc.stderr.strip().endswith("notes.txt: not a MARC file (neither ISO 2709 nor MARCXML)")
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    authorities = _run("import-marc", str(marc_dir / "auth-1066.mrc"), env=cli_env)
    assert authorities.returncode == 2, authorities.stderr[-300:]
    sample = write_sample(tmp_path / "sample.mrc")
    mixed = _run("import-marc", str(sample), str(not_marc), env=cli_env)
    assert mixed.returncode == 1 and "1 records were not imported" in mixed.stderr
    assert "created 25" in mixed.stdout
    clean = _run("import-marc", str(sample), env=cli_env)
    assert clean.returncode == 0, clean.stderr
