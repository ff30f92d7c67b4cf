"""Every table of the store on one metadata: importing this module registers them all.

Each area keeps its tables in a module of its own (and its migrations on a branch of its own
from 0001); list the module here.
"""

from __future__ import annotations

import store.tables_notifications
import store.tables_templates
import store.tables_webhooks  # noqa: F401
from store.tables import Base

metadata = Base.metadata
