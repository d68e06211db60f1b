"""Staff accounts: administration by admins, and each member's own account."""
