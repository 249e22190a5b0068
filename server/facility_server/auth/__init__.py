"""Accounts, roles scoped to a node of the hierarchy, tokens and the audit log."""
