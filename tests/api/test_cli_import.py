"""`zhian import`: an operator brings in a family's LINE or WhatsApp history from the command
line, on SQLite and PostgreSQL, and reads the result through the API."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_cli import _elder, _last_line, _refused, _said, api, zhian  # noqa: F401
from tests.conftest import bearer

DATA = Path(__file__).parent.parent / "data" / "chats"


def _household(zhian) -> tuple[str, str, str]:  # noqa: F811
    elder_id = _elder(zhian)
    made = zhian(
        "admin", "create-account", "--role", "family", "--elder", elder_id, "--name", "美玲"
    )
    assert made.exit_code == 0, made.output
    admin = zhian("admin", "create-token", "--role", "admin")
    return elder_id, _last_line(made), _last_line(admin)


def _texts(api, elder_id: str, token: str) -> list[tuple[str, str | None, str]]:  # noqa: F811
    page = api.get(f"/v1/elders/{elder_id}/messages", headers=bearer(token)).json()
    return [(m["role"], m["speaker"], m["text"]) for m in page["items"]]


def test_import_a_line_history_then_again(zhian, api):  # noqa: F811
    elder_id, daughter, admin = _household(zhian)
    args = ["import", "--elder", elder_id, "--format", "line"]
    senders = ["--as", "媽媽=elder", "--as", f"美玲={daughter}", "--keep-others"]
    first = zhian(*args, *senders, str(DATA / "line_zh_hant.txt"))
    assert first.exit_code == 0, first.output
    said = _said(first)
    assert "Imported 7 messages from line_zh_hant.txt (0 already there" in said
    assert "2 call" in said and "1 sticker" in said
    texts = _texts(api, elder_id, admin)
    assert texts[:2] == [("elder", "林美華", "早安"), ("family", "美玲", "早安媽，今天天氣很好")]
    assert ("other", "阿明", "我晚點到") in texts

    again = zhian(*args, *senders, str(DATA / "line_zh_hant.txt"))
    assert again.exit_code == 0, again.output
    assert "Imported 0 messages from line_zh_hant.txt (7 already there" in _said(again)
    assert len(_texts(api, elder_id, admin)) == 7


def test_import_a_whatsapp_history_day_first(zhian, api, tmp_path):  # noqa: F811
    elder_id, daughter, admin = _household(zhian)
    chat = tmp_path / "WhatsApp Chat with Mum.txt"
    chat.write_text(
        "01/02/2024, 09:00 - Mum: The plum tree flowered\n01/03/2024, 09:05 - 美玲: Lovely!\n"
    )
    base = ["import", "--elder", elder_id, "--format", "whatsapp", "--as", "Mum=elder"]
    unsure = zhian(*base, "--as", f"美玲={daughter}", str(chat))
    assert "--date-order" in _refused(unsure)
    done = zhian(*base, "--as", f"美玲={daughter}", "--date-order", "dmy", str(chat))
    assert done.exit_code == 0, done.output
    page = api.get(f"/v1/elders/{elder_id}/messages", headers=bearer(admin)).json()
    assert [m["said_at"][:10] for m in page["items"]] == ["2024-02-01", "2024-03-01"]


def test_a_bad_line_or_an_unknown_sender_writes_nothing(zhian, api, tmp_path):  # noqa: F811
    elder_id, _, admin = _household(zhian)
    broken = tmp_path / "broken.txt"
    broken.write_text("2024/01/05（五）\n上午10:05\t媽媽\t早安\n上午13:05\t媽媽\t午安\n")
    said = _refused(
        zhian("import", "--elder", elder_id, "--format", "line", "--as", "媽媽=elder", str(broken))
    )
    assert "line 3" in said and "'上午13:05' is not a time of day" in said
    assert "nothing was imported" in said

    said = _refused(
        zhian("import", "--elder", elder_id, "--format", "line", str(DATA / "line_zh_hant.txt"))
    )
    assert "媽媽 (5 messages), 美玲 (1 message), 阿明 (1 message)" in said
    assert _texts(api, elder_id, admin) == []


def test_an_elder_or_account_that_is_not_there_is_named(zhian):  # noqa: F811
    said = _refused(
        zhian("import", "--elder", "f" * 32, "--format", "line", str(DATA / "line_en.txt"))
    )
    assert "No elder with id" in said
    elder_id = _elder(zhian)
    said = _refused(
        zhian(
            "import",
            "--elder",
            elder_id,
            "--format",
            "line",
            "--as",
            "Mom=" + "0" * 32,
            str(DATA / "line_en.txt"),
        )
    )
    assert "neither 'elder' nor the id of a family account" in said
