"""The `zhian` command line, as an operator uses it.

`zhian admin …` runs on the default data directory (a SQLite file in ZHIAN_DATA_DIR) and on
PostgreSQL (ZHIAN_DATABASE_URL); what it prints is then used against the API. The last test
starts `zhian serve` as a real process, twice on the same data directory.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.settings import Settings
from tests.conftest import PG_URL_VAR, bearer, scripted_model, share_model

ID = re.compile(r"[0-9a-f]{32}")
TOKEN = re.compile(r"zhian_[0-9a-f]{8}_[A-Za-z0-9_-]+")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _clear_zhian_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ZHIAN_") and key != PG_URL_VAR:
            monkeypatch.delenv(key)


def _said(result: Result) -> str:
    """Everything the command printed, on one line (Rich wraps long messages)."""
    return " ".join(ANSI.sub("", result.output).split())


def _last_line(result: Result) -> str:
    lines = result.stdout.strip().splitlines()
    assert lines, f"nothing on stdout:\n{result.output}"
    return lines[-1].strip()


def _refused(result: Result) -> str:
    """A refusal: non-zero exit, no exception escaping the command, no token printed."""
    assert result.exit_code != 0, result.output
    # CliRunner catches exceptions, so their traceback never shows in `output`: an exception
    # other than SystemExit here is a traceback in the operator's terminal.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r} escaped:\n{result.output}"
    )
    assert not TOKEN.search(result.stdout), result.stdout
    return _said(result)


@pytest.fixture
def zhian(engine: sa.Engine, tmp_path, monkeypatch) -> Iterator[Callable[..., Result]]:
    """`zhian …` with a fresh data directory: the default SQLite file in it, or PostgreSQL.

    The schema is brought up to date first, with `zhian db upgrade`."""
    _clear_zhian_environment(monkeypatch)
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(tmp_path / "data"))
    if engine.dialect.name == "postgresql":
        monkeypatch.setenv("ZHIAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)  # away from any .env in the checkout
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args))

    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "current" in upgraded.stdout
    assert run("db", "status").exit_code == 0
    yield run
    # `zhian` configures logging for its own process; give pytest's back.
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def api(zhian) -> Iterator[TestClient]:
    """The app on the same database, configured from the same environment as the commands."""
    app = create_app(Settings())
    scripted_model(app)
    with TestClient(app) as client:
        yield client


def _elder(zhian, name: str = "林美華", language: str = "zh-Hant") -> str:
    result = zhian("admin", "create-elder", "--name", name, "--language", language)
    assert result.exit_code == 0, result.output
    elder_id = _last_line(result)
    assert ID.fullmatch(elder_id), result.stdout
    return elder_id


def _token(zhian, *args: str) -> str:
    result = zhian("admin", "create-token", *args)
    assert result.exit_code == 0, result.output
    token = _last_line(result)
    assert TOKEN.fullmatch(token), result.stdout
    return token


def _assert_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def test_create_elder_prints_the_id_last(zhian, api):
    elder_id = _elder(zhian, "林美華", "zh-Hant")
    admin = _token(zhian, "--role", "admin")
    r = api.get(f"/v1/elders/{elder_id}", headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "林美華"
    assert r.json()["language"] == "zh-Hant"


def test_an_elder_token_reaches_its_own_elder_only(zhian, api):
    elder_id = _elder(zhian)
    other_id = _elder(zhian, "Margaret Lee", "en")
    token = _token(zhian, "--role", "elder", "--elder", elder_id)

    assert api.get(f"/v1/elders/{elder_id}", headers=bearer(token)).status_code == 200
    _assert_error(api.get(f"/v1/elders/{other_id}", headers=bearer(token)), 404)
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["account"]["role"] == "elder"
    assert [e["id"] for e in me["elders"]] == [elder_id]


def test_an_admin_token_can_register_elders(zhian, api):
    admin = _token(zhian, "--role", "admin")
    r = api.post(
        "/v1/elders", json={"name": "陳阿公", "language": "zh-Hant"}, headers=bearer(admin)
    )
    assert r.status_code == 201, r.text
    # A second admin token without --name is for the same administrator, not a new one.
    again = _token(zhian, "--role", "admin")
    assert again != admin
    me = [api.get("/v1/me", headers=bearer(t)).json()["account"] for t in (admin, again)]
    assert me[0]["id"] == me[1]["id"] and me[0]["role"] == "admin"


def test_a_family_token_sees_messages_only_once_granted(zhian, api):
    elder_id = _elder(zhian)
    family = _token(zhian, "--role", "family", "--elder", elder_id, "--name", "美玲")
    elder = _token(zhian, "--role", "elder", "--elder", elder_id)
    messages = f"/v1/elders/{elder_id}/messages"
    r = api.post(messages, json={"text": "今天去公園散步。"}, headers=bearer(elder))
    assert r.status_code == 201, r.text

    _assert_error(api.get(messages, headers=bearer(family)), 403)

    me = api.get("/v1/me", headers=bearer(family)).json()
    assert me["account"]["display_name"] == "美玲"
    grant = f"/v1/elders/{elder_id}/grants/{me['account']['id']}"
    r = api.put(grant, json={"scopes": ["memories:read"]}, headers=bearer(elder))
    assert r.status_code == 200, r.text
    r = api.get(messages, headers=bearer(family))
    assert r.status_code == 200, r.text
    assert [m["text"] for m in r.json()["items"]] == ["今天去公園散步。"]


def test_revoked_tokens_answer_401_by_token_or_by_id(zhian, api):
    elder_id = _elder(zhian)
    by_secret = _token(zhian, "--role", "elder", "--elder", elder_id)
    issued = zhian("admin", "create-token", "--role", "family", "--elder", elder_id)
    by_id = _last_line(issued)
    token_id = re.search(r"Token ([0-9a-f]{32})", issued.stdout).group(1)
    for token in (by_secret, by_id):
        assert api.get("/v1/me", headers=bearer(token)).status_code == 200

    for argument, token in ((by_secret, by_secret), (token_id, by_id)):
        result = zhian("admin", "revoke-token", argument)
        assert result.exit_code == 0, result.output
        assert "revoked" in _said(result)
        r = api.get(f"/v1/elders/{elder_id}", headers=bearer(token))
        assert "revoked" in _assert_error(r, 401)["message"]
    # Revoking again changes nothing and is not an error.
    assert zhian("admin", "revoke-token", token_id).exit_code == 0


def test_create_account_for_a_guardian_prints_the_id_last(zhian, api):
    elder_id = _elder(zhian)
    result = zhian(
        "admin",
        "create-account",
        "--role",
        "family",
        "--elder",
        elder_id,
        "--name",
        "美玲",
        "--relation",
        "daughter",
        "--guardian",
    )
    assert result.exit_code == 0, result.output
    account_id = _last_line(result)
    assert ID.fullmatch(account_id), result.stdout

    token = _token(zhian, "--role", "family", "--account", account_id)
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["account"]["id"] == account_id
    assert me["account"]["is_guardian"] is True
    assert me["account"]["relation"] == "daughter"
    # A guardian manages who sees what, with no grant of their own.
    assert api.get(f"/v1/elders/{elder_id}/grants", headers=bearer(token)).status_code == 200
    listed = zhian("admin", "list-accounts", "--elder", elder_id)
    assert listed.exit_code == 0 and account_id in listed.stdout


BAD_INPUT = [
    (["create-token", "--role", "elder", "--elder", "no-such-elder"], "no-such-elder"),
    (["create-token", "--role", "family", "--elder", "no-such-elder"], "no-such-elder"),
    (["create-token", "--role", "family"], "--elder"),
    (["create-token", "--role", "creator"], "--elder"),
    (["create-token", "--role", "elder", "--account", "no-such-account"], "no-such-account"),
    (["create-token", "--role", "admin", "--account", "{elder_account}"], "{elder_account}"),
    (["create-account", "--role", "family", "--elder", "no-such-elder"], "no-such-elder"),
    (["create-account", "--role", "family"], "elder"),
    (["create-account", "--role", "creator", "--elder", "{elder}", "--guardian"], "guardian"),
    (["create-account", "--role", "admin", "--elder", "{elder}"], "elder"),
    (["create-elder", "--name", "X", "--language", "klingon"], "klingon"),
    (["create-elder", "--name", "X", "--language", "en", "--timezone", "Mars/Base"], "Mars/Base"),
    (["create-elder", "--name", "X", "--language", "en", "--birthday", "1950-02-30"], "birthday"),
    (["create-elder", "--language", "en"], "--name"),
    (["revoke-token", "zhian_00000000_not-a-token"], "No such token"),
    (["revoke-token", "no-such-token-id"], "no-such-token-id"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_refused_with_a_readable_message(zhian, args, expected):
    elder_id = _elder(zhian)
    elder_account = ID.findall(_said(zhian("admin", "list-accounts", "--elder", elder_id)))[0]
    args = [a.format(elder=elder_id, elder_account=elder_account) for a in args]
    expected = expected.format(elder=elder_id, elder_account=elder_account)
    said = _refused(zhian("admin", *args))
    assert expected.lower() in said.lower(), said


def test_admin_commands_before_db_upgrade_say_what_to_do(tmp_path, monkeypatch):
    """An operator who skips `zhian db upgrade` (or `zhian serve`) on a new data directory."""
    _clear_zhian_environment(monkeypatch)
    monkeypatch.setenv("ZHIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = CliRunner().invoke(
            main, ["admin", "create-elder", "--name", "X", "--language", "en"]
        )
    finally:
        root.handlers[:], root.level = handlers, level
    if result.exit_code == 0:  # upgrading on the way is as good as saying so
        assert ID.fullmatch(_last_line(result)), result.output
    else:
        assert "zhian db upgrade" in _refused(result), result.output


# --- zhian serve, as a real process -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`zhian serve` in a subprocess; its output goes to files, so reading never blocks."""

    def __init__(self, workdir: Path, data_dir: Path, port: int, name: str) -> None:
        executable = Path(sys.executable).with_name("zhian")
        assert executable.exists(), f"{executable} is missing: pip install -e . installs it"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIAN_")}
        env["ZHIAN_DATA_DIR"] = str(data_dir)
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)],
                stdout=out,
                stderr=err,
                env=env,
                cwd=workdir,
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def logs(self) -> str:
        stderr = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return f"stdout:\n{self.stdout}\nstderr:\n{stderr[-4000:]}"

    def wait_until_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"zhian serve exited with {self.process.returncode}\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"zhian serve did not answer /healthz within {timeout} s\n{self.logs()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _tokens(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("zhian_")]


def _memories(api, token: str, elder_id: str, texts: list[str]) -> None:
    body = {
        "messages": [
            {"text": t, "external_id": f"r{i}", "said_at": f"2026-11-{1 + i % 20:02d}T10:00:00"}
            for i, t in enumerate(texts)
        ]
    }
    r = api.post(f"/v1/elders/{elder_id}/messages:import", json=body, headers=bearer(token))
    assert r.status_code == 200, r.text


def _index_status(api, token: str, elder_id: str) -> dict:
    return api.get(f"/v1/elders/{elder_id}/index-status", headers=bearer(token)).json()


@pytest.fixture
def reindexing(zhian, monkeypatch, engine, request):
    """`zhian reindex` beside embedded Chroma (SQLite) or a Chroma server (PostgreSQL)."""
    from tests.conftest import index_location

    location = index_location(engine, request)
    monkeypatch.setenv("ZHIAN_VECTOR_INDEX", location)
    monkeypatch.setenv("ZHIAN_EMBEDDER", "e5-small")
    monkeypatch.setenv("ZHIAN_INDEX_IN_BACKGROUND", "false")  # only the command indexes here
    return zhian


def test_reindex_rebuilds_the_index_with_progress_and_resumes(reindexing, api, monkeypatch):
    from memory import indexer

    zhian = reindexing
    elder_id = _elder(zhian)
    admin = _token(zhian, "--role", "admin")
    texts = [f"第{i}天：我在公園遇到老朋友，聊了很久" for i in range(150)]
    _memories(api, admin, elder_id, texts)

    # Interrupted after the first batch (Ctrl-C) ...
    real = indexer.drain_batch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "drain_batch", interrupted)
    first = zhian("reindex")
    assert first.exit_code != 0
    assert "Rebuilding" in first.output
    status = _index_status(api, admin, elder_id)
    assert status["indexed"] == indexer.BATCH and status["pending"] == 150 - indexer.BATCH

    # ... and run again: it resumes rather than starting over.
    monkeypatch.setattr(indexer, "drain_batch", real)
    second = zhian("reindex")
    assert second.exit_code == 0, second.output
    said = _said(second)
    assert "Resuming" in said and "Indexing memories" in said
    assert f"Done: {150 - indexer.BATCH} memories indexed" in said
    assert _index_status(api, admin, elder_id) == {"pending": 0, "indexed": 150}

    # A fresh rebuild of one elder starts from all of its memories.
    third = zhian("reindex", "--elder", elder_id)
    assert third.exit_code == 0, third.output
    assert "Done: 150 memories indexed" in _said(third)
    found = api.post(
        f"/v1/elders/{elder_id}/memories:search",
        json={"query": "公園老朋友", "k": 5},
        headers=bearer(admin),
    )
    assert found.status_code == 200 and found.json()["degraded"] is False
    assert len(found.json()["results"]) == 5


def test_reindex_of_an_unknown_elder_says_so(reindexing):
    said = _refused(reindexing("reindex", "--elder", "0" * 32))
    assert "no elder with id" in said


def test_serve_refuses_several_workers_on_the_embedded_index(zhian):
    said = _refused(zhian("serve", "--workers", "2"))
    assert "Chroma server" in said


def test_serve_starts_on_an_empty_data_directory_and_prints_the_first_admin_token(
    tmp_path, model_dir
):
    data_dir = tmp_path / "data"
    share_model(model_dir, data_dir)  # joined once per test run, not once per start
    port = _free_port()

    first = Server(tmp_path, data_dir, port, "first")
    try:
        first.wait_until_healthy()
        assert first.url in first.stdout, first.logs()
        assert "Language model: Qwen2.5-Coder-1.5B-Instruct" in first.stdout, first.logs()
        tokens = _tokens(first.stdout)
        assert len(tokens) == 1, first.logs()
        token = tokens[0]
        assert TOKEN.fullmatch(token), first.logs()

        me = httpx.get(f"{first.url}/v1/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["account"]["role"] == "admin"
        _assert_error(httpx.get(f"{first.url}/v1/elders"), 401)
        ready = httpx.get(f"{first.url}/readyz")
        assert ready.status_code == 200, ready.text
    finally:
        first.stop()

    second = Server(tmp_path, data_dir, port, "second")
    try:
        second.wait_until_healthy()
        assert second.url in second.stdout, second.logs()
        assert _tokens(second.stdout) == [], "a restart must not make another admin token"
        me = httpx.get(f"{second.url}/v1/me", headers=bearer(token))
        assert me.status_code == 200, me.text
    finally:
        second.stop()


def test_elder_link_opens_the_elders_page_with_a_working_token(zhian, api, monkeypatch):
    monkeypatch.setenv("ZHIAN_PUBLIC_URL", "https://zhian.example.org/")
    elder_id = _elder(zhian, "林美華", "zh-Hant")
    result = zhian("admin", "elder-link", elder_id, "--label", "媽媽的手機")
    assert result.exit_code == 0, result.output
    link = _last_line(result)
    assert link.startswith("https://zhian.example.org/talk#token=zhian_")
    assert "█" in result.stdout or "▀" in result.stdout  # the QR code, for a phone's camera
    token = link.split("#token=")[1]
    me = api.get("/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["account"]["role"] == "elder"
    assert [e["id"] for e in me.json()["elders"]] == [elder_id]
    page = api.get("/talk")
    assert page.status_code == 200
    assert "智安" in page.text

    refused = _refused(zhian("admin", "elder-link", "no-such-elder"))
    assert "no-such-elder" in refused


def test_consolidate_rebuilds_profiles_and_summarises_the_day(zhian, api, monkeypatch):
    monkeypatch.setenv("ZHIAN_LLM", "none")
    elder_id = _elder(zhian)
    admin = _token(zhian, "--role", "admin")
    r = api.post(
        f"/v1/elders/{elder_id}/messages",
        json={"text": "我今天去公園散步", "said_at": "2026-11-20T09:00:00", "role": "elder"},
        headers=bearer(admin),
    )
    assert r.status_code == 201, r.text
    result = zhian("consolidate", "--day", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "1 profiles rebuilt, 1 day summaries written" in _said(result)
    refused = _refused(zhian("consolidate", "--elder", "0" * 32))
    assert "No elder" in refused
