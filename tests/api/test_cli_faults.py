"""What an operator sees when the machine is not as `zhian` expects: one sentence saying what is
wrong and what to do, a non-zero exit, and a traceback only when asked for (--verbose)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from api import cli
from api.cli import main
from tests.api.test_cli import _clear_zhian_environment, _refused


@pytest.fixture
def zhian(tmp_path, monkeypatch) -> Iterator[Callable[..., Result]]:
    """`zhian …` on the data directory tmp_path/data (the default SQLite database in it)."""
    _clear_zhian_environment(monkeypatch)
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    runner = CliRunner()
    yield lambda *args: runner.invoke(main, list(args))
    root.handlers[:], root.level = handlers, level


def _one_sentence(result: Result) -> str:
    said = _refused(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in said and len(re.findall(r"(?<!\w)Error:", said)) == 1, said
    assert said.startswith("Error:") and said.endswith("."), said
    return said


COMMANDS = [("serve",), ("db", "upgrade"), ("admin", "list-accounts")]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_data_directory_that_is_a_file(zhian, tmp_path, command):
    (tmp_path / "data").write_text("not a folder")
    said = _one_sentence(zhian(*command))
    assert "is a file, not a folder" in said and "ZHIAN_DATA_DIR" in said


@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_database_file(zhian, tmp_path, command):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "zhian.db").write_bytes(os.urandom(16384))
    said = _one_sentence(zhian(*command))
    assert "zhian.db is damaged" in said and "backup" in said


def test_a_data_directory_zhian_may_not_write(zhian, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: make the check see what a user would
        monkeypatch.setattr(cli, "_can_write", lambda folder: False)
    try:
        said = _one_sentence(zhian("serve"))
    finally:
        data.chmod(0o755)
    assert "may not write" in said and str(data) in said and "ZHIAN_DATA_DIR" in said


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ZHIAN_LLM", "bogus", "ZHIAN_LLM=bogus is not valid: Input should be 'embedded'"),
        ("ZHIAN_SMTP_PORT", "twenty-five", "ZHIAN_SMTP_PORT=twenty-five is not valid"),
        ("ZHIAN_SCHEDULER_TICK_SECONDS", "0", "ZHIAN_SCHEDULER_TICK_SECONDS=0 is not valid"),
    ],
)
def test_an_invalid_setting_is_named(zhian, monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    for command in COMMANDS:
        said = _one_sentence(zhian(*command))
        assert expected in said and ".env" in said, said


def test_a_secret_setting_is_not_printed(zhian, monkeypatch):
    monkeypatch.setenv("ZHIAN_DATABASE_URL", "postgresql://u:hunter2@db/zhian")
    monkeypatch.setenv("ZHIAN_MAX_REQUEST_BYTES", "lots")
    said = _one_sentence(zhian("db", "upgrade"))
    assert "ZHIAN_MAX_REQUEST_BYTES" in said and "hunter2" not in said


def test_an_unexpected_failure_says_how_to_see_more(zhian, monkeypatch):
    def boom(_settings):  # type: ignore[no-untyped-def]
        raise RuntimeError("the disk controller\nlost its mind")

    monkeypatch.setattr(cli, "_engine", boom)
    said = _one_sentence(zhian("db", "upgrade"))
    assert "RuntimeError: the disk controller" in said and "--verbose" in said


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("zhian")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIAN_")}
    clean |= {"ZHIAN_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **env}
    return subprocess.run(
        [str(executable), *args], env=clean, cwd=tmp_path, capture_output=True, text=True
    )


def test_in_a_real_terminal_no_traceback_unless_verbose(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "zhian.db").write_bytes(b"\0" * 4096 + os.urandom(4096))
    quiet = _run(tmp_path, "serve", ZHIAN_LLM="bogus")
    assert quiet.returncode == 2
    assert quiet.stderr.strip().startswith("Error: The setting ZHIAN_LLM=bogus is not valid")
    assert len(quiet.stderr.strip().splitlines()) == 1, quiet.stderr
    damaged = _run(tmp_path, "serve")
    assert damaged.returncode == 2 and "Traceback" not in damaged.stderr, damaged.stderr
    assert "zhian.db is damaged" in damaged.stderr and damaged.stdout == ""
    verbose = _run(tmp_path, "--verbose", "serve")
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr and "zhian.db is damaged" in verbose.stderr
