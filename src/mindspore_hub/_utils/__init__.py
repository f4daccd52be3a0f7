"""Upstream's private helpers, under upstream's names, for code and tests written against it.

Each delegates to this package's own module that does the job (validate, cache, repo, hashes).
"""
