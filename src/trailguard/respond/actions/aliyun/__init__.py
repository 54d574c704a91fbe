"""Alibaba Cloud actions (ECS, RAM)."""
