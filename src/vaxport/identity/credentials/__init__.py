"""Credentials once a login succeeded: access tokens, signing keys, sessions, tickets."""
