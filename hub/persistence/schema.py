"""Every table of the hub on one metadata: the core ones (``tables``), door access's
(``access``), the residents' (``community``), the field's (``field``) and the camera
evidence's (``evidence``). The migrations and their test compare against ``Base`` from here,
so that no model module is left out whichever modules happen to be imported."""

from hub.persistence import access, community, evidence, field, tables

Base = tables.Base

MODULES = (tables, access, community, field, evidence)
"""The modules whose models make the schema."""
