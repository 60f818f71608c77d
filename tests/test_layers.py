"""Imports run one way (issue #14; DESIGN.md "Layers"; docs/dev/architecture.md).

faces (config; opac | staff | api | portal) -> services (sip2 | interop | reports | privacyoffice,
then notices | jobs) -> domain (circulation -> patrons -> accounts -> catalog) -> kernel
(privacy) -> base (core | formats). Nothing imports upward, not even inside a function, and
the modules of one app form no cycle. The contracts are import-linter's, in pyproject.toml
([tool.importlinter]); CI runs only `make test`, so this test runs them (as `make lint`
does). Known debt would be listed there as ignore_imports, each with its reason (none now).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(*, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_runs_down_the_layers_and_no_app_has_a_cycle_issue_14():
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract_issue_14(tmp_path):
    """The check bites: a copy of the code where core (the base) imports a staff page
    inside a function fails, and names the import."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "quietshelf",
        copy / "quietshelf",
        ignore=shutil.ignore_patterns("templates", "static", "locale", "__pycache__", "*.mo"),
    )
    clock = copy / "quietshelf" / "core" / "clock.py"
    clock.write_text(
        clock.read_text()
        + "\n\ndef _upward():\n    from quietshelf.staff import views\n\n    return views\n"
    )
    result = _lint(pythonpath=str(copy))
    assert result.returncode != 0, result.stdout
    assert "quietshelf.core.clock -> quietshelf.staff.views" in result.stdout
