"""Logging in: staff (password, TOTP) and citizens (one-time codes), throttling, recovery."""
