"""Notifications about alerts: recipients, message text, the outbox and its worker
(Apprise: webhook, DingTalk, WeCom, email). See docs/compliance.md."""
