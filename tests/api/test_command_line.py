"""The `zhian` command: what an operator types, and the first start of `zhian serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.settings import Settings
from tests.conftest import bearer


@pytest.fixture
def operator(tmp_path, monkeypatch):
    """Runs `zhian …` on an empty data directory and returns (exit code, output lines)."""
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ZHIAN_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, list[str]]:
        result = runner.invoke(main, list(args))
        return result.exit_code, result.output.strip().splitlines()

    code, _ = run("db", "upgrade")
    assert code == 0
    return run


def test_tokens_made_on_the_command_line_work_and_can_be_revoked(operator):
    code, lines = operator("admin", "create-elder", "--name", "林美華", "--language", "zh-Hant")
    assert code == 0
    elder_id = lines[-1]
    _, lines = operator("admin", "create-elder", "--name", "Other", "--language", "en")
    other_id = lines[-1]
    code, lines = operator("admin", "create-token", "--role", "elder", "--elder", elder_id)
    assert code == 0 and lines[-1].startswith("zhian_")
    elder_token = lines[-1]
    _, lines = operator("admin", "create-token", "--role", "admin")
    admin_token = lines[-1]
    _, lines = operator("admin", "create-token", "--role", "family", "--elder", elder_id)
    family_token = lines[-1]

    with TestClient(create_app(Settings())) as client:
        assert client.get(f"/v1/elders/{elder_id}", headers=bearer(elder_token)).status_code == 200
        assert client.get(f"/v1/elders/{other_id}", headers=bearer(elder_token)).status_code == 404
        r = client.post(
            "/v1/elders", json={"name": "New", "language": "en"}, headers=bearer(admin_token)
        )
        assert r.status_code == 201
        messages = f"/v1/elders/{elder_id}/messages"
        assert client.get(messages, headers=bearer(family_token)).status_code == 403

        code, lines = operator("admin", "revoke-token", elder_token)
        assert code == 0 and "revoked" in lines[-1]
        r = client.get(f"/v1/elders/{elder_id}", headers=bearer(elder_token))
        assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_accounts_and_readable_failures(operator):
    _, lines = operator("admin", "create-elder", "--name", "Ada", "--language", "en")
    elder_id = lines[-1]
    code, lines = operator(
        "admin",
        "create-account",
        "--role",
        "family",
        "--elder",
        elder_id,
        "--name",
        "Mei",
        "--relation",
        "daughter",
        "--guardian",
    )
    assert code == 0 and len(lines[-1]) == 32
    code, lines = operator("admin", "create-token", "--role", "family", "--account", lines[-1])
    assert code == 0 and lines[-1].startswith("zhian_")

    code, lines = operator("admin", "create-token", "--role", "family")
    assert code != 0 and "--elder" in " ".join(lines) and "Traceback" not in " ".join(lines)
    code, lines = operator("admin", "create-account", "--role", "family", "--elder", "nope")
    assert code != 0 and "nope" in " ".join(lines)
    code, lines = operator(
        "admin", "create-elder", "--name", "X", "--language", "en", "--timezone", "Mars/Base"
    )
    assert code != 0 and "timezone" in " ".join(lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, port: int) -> subprocess.Popen:
    zhian = Path(sys.executable).with_name("zhian")
    env = {k: v for k, v in os.environ.items() if k != "ZHIAN_DATABASE_URL"}
    env["ZHIAN_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [str(zhian), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "zhian serve exited early"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("zhian serve did not answer /healthz within 60 s")


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def test_first_serve_prints_the_address_and_an_admin_token_once(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(tmp_path / "data", port)
    try:
        _wait_healthy(url, process)
        assert httpx.get(f"{url}/readyz").status_code == 200
        r = httpx.get(f"{url}/v1/elders")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    finally:
        out = _stop(process)
    assert url in out
    tokens = [line for line in out.splitlines() if line.startswith("zhian_")]
    assert len(tokens) == 1

    process = _start(tmp_path / "data", port)
    try:
        _wait_healthy(url, process)
        me = httpx.get(f"{url}/v1/me", headers=bearer(tokens[0]))
        assert me.status_code == 200 and me.json()["account"]["role"] == "admin"
    finally:
        out = _stop(process)
    assert not [line for line in out.splitlines() if line.startswith("zhian_")]
