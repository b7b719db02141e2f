"""Fixtures shared by integration modules."""

from github_fake import github  # noqa: F401 — the fake GitHub REST API on 127.0.0.1
