"""Signoff: approve AWS approval workflows from Slack."""
