"""Every table of the hub on one metadata: the core ones (``tables``) and the residents'
(``community``). The migrations and their test compare against ``Base`` from here, so that no
model module is left out whichever modules happen to be imported."""

from hub.persistence import community, tables

Base = tables.Base

MODULES = (tables, community)
"""The modules whose models make the schema."""
