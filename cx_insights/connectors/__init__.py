"""Connectors: vendor APIs and exports -> contract-shaped files in the landing directory.

Each connector is a dlt source (`cx_insights.connectors.<system>`) whose resources
yield rows already mapped to the landing contract; one dlt destination
(`landing.landing_destination`) writes them as JSON Lines files into
`<landing>/<source>/<entity>/`, so the loader, the gate and the models take them
like any other drop. dlt keeps each connector's cursors in
`<warehouse dir>/connectors/<name>/`.
"""

from __future__ import annotations

import os

# dlt reads this when first used: no telemetry from a warehouse that may hold customer data.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
