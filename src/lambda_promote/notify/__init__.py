"""Notifications: Slack, email and signed webhooks (DESIGN §5.8, §5.9).

The dispatcher and the deployment listener live in ``dispatch``; event types in ``events``;
secret scrubbing in ``redact``. This package file stays empty on purpose: ``redact`` and
``events`` are used on every command's path and must not pull in the dispatcher's imports.
"""
