"""Identities the hub issues for its brokers: CA, certificates, passwords, ACLs (issue 14).

``linli broker init|add-*|revoke`` (``linli.trust.commands``) keep one folder per
broker; the pure parts (``acl``, ``config``, ``passwords``) render what Mosquitto reads.
"""
