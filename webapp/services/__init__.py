"""Writes and queries of the domain, called by views, the API, the CLI and jobs alike.

Services take an explicit actor where it matters and never commit: the caller owns the
transaction (one commit per request or command).
"""
