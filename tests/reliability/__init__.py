"""Reliability and security campaign: crashes, injected faults, hostile input and tampering."""
