"""Peer measurements, run as standalone scripts in their own virtualenvs (they import nothing from modelog)."""
