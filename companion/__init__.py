"""The companion: persona, chat orchestration, LLM access, reminders, digests, story export."""
