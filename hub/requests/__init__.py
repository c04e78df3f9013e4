"""Residents' requests (点单—派单—接单): a household reports a problem with photos, follows it
to done and rates it; ``rules`` is the pure part, ``photos`` re-encodes pictures, ``routes``
the operators' API, ``resident`` the household's own routes, ``phone`` its page.
"""
