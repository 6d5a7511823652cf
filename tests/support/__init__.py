"""Helpers shared by the integration tests: real services on loopback (SMTP peers, Postfix)."""
