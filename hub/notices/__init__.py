"""Notices (通知) from operators to a site, a building or some households: ``rules`` picks the
households (pure), ``repository`` stores them with a read receipt per household, ``routes``
the operators' API and the household's own ``/r/<token>/notices``.
"""
