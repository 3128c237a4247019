"""Crossmark (MVRetail): the HTTP client, the sandbox that stands in for it, and the sync."""
