"""Notification actions (webhook, DingTalk, Slack)."""
