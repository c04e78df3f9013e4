"""Who may do what: users, bearer tokens, roles, and site scoping.

``rules`` (pure: roles, permissions, principals, secrets), ``scoping`` (pure: which site a
record belongs to, what a site-scoped caller may see), ``repository`` (users and tokens),
``routes`` (sign-in, accounts, tokens, and the guard in front of ``/api/v1``).
"""
