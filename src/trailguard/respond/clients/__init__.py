"""Thin provider clients: one per cloud plus the notification webhooks."""

from trailguard.respond.clients.base import CallResponse, ProviderClient

__all__ = ["CallResponse", "ProviderClient"]
