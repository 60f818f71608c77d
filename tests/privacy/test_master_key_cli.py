"""Bad input at start-up: missing master key in production, unsafe or broken key file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROD = {
    "QUIETSHELF_ENV": "production",
    "QUIETSHELF_SECRET_KEY": "k3Zq9-" * 12,
    "QUIETSHELF_ALLOWED_HOSTS": "lib.example",
    "QUIETSHELF_HSTS_SECONDS": "31536000",
}


def _env(env_extra, tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "QUIETSHELF_MASTER_KEY"}
    }
    env.update({"QUIETSHELF_HOME": str(tmp_path), **env_extra})
    return env


def run(args, env_extra, tmp_path):
    env = _env(env_extra, tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "quietshelf", *args],
        capture_output=True,
        text=True,
        # a whole migrate in a new process: minutes on a loaded shared machine, not 120 s
        timeout=300,
        env=env,
    )


def test_production_without_master_key_refuses_to_start_PRV_ENC_1(tmp_path):
    out = run(["check"], PROD, tmp_path)
    assert out.returncode == 2
    assert "no master key" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_refuses_to_start_and_says_why(tmp_path, mode):
    key = tmp_path / "master.key"
    key.write_text("1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    key.chmod(mode)
    out = run(["check"], {"QUIETSHELF_ENV": "development"}, tmp_path)
    assert out.returncode == 2
    assert f"mode {mode:04o}" in out.stderr and "chmod 600" in out.stderr
    assert "Traceback" not in out.stderr


def test_malformed_key_file_is_refused(tmp_path):
    key = tmp_path / "master.key"
    key.write_text("1:short\n")
    key.chmod(0o600)
    out = run(["check"], {"QUIETSHELF_ENV": "development"}, tmp_path)
    assert out.returncode == 2 and "master.key" in out.stderr
    assert "Traceback" not in out.stderr


def test_migrate_creates_a_private_key_file_in_development(tmp_path, migrated_instances):
    """PRV-ENC-1: `quietshelf migrate` on an empty instance folder in development makes a
    master key file only its owner can read. The session's migrated template is made by
    exactly that command in this environment (tests/instances.py, which fails if migrate
    does), so the test reads what it left; migrate again on a copy changes nothing."""
    env = _env({"QUIETSHELF_ENV": "development"}, tmp_path)
    made = migrated_instances.template(env)
    key = made / "master.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    assert (made / "keystore.sqlite3").exists()
    migrated_instances.copy_into(env)
    again = run(["migrate"], {"QUIETSHELF_ENV": "development"}, tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "master.key").read_bytes() == key.read_bytes()


def test_wrong_master_key_stops_migrate_with_one_line(tmp_path, migrated_instances):
    # an instance migrated under its own new key file (a copy of one migrated once, #14)
    migrated_instances.copy_into(_env({"QUIETSHELF_ENV": "development"}, tmp_path))
    assert (tmp_path / "master.key").is_file()
    (tmp_path / "master.key").write_text("1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n")
    out = run(["migrate"], {"QUIETSHELF_ENV": "development"}, tmp_path)
    assert out.returncode == 2
    assert "wrong master key" in out.stderr and "Traceback" not in out.stderr
