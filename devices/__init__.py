"""The Linli device contract: kinds, payloads, topics, adapters and edge↔hub messages.

Everything else in Linli depends on this package; it depends on nothing else of ours.
"""
