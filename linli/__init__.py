"""Linli's composition root: the ``linli`` command and the brokers it can start."""
