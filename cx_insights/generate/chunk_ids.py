"""Identifiers shared by the generator's entity builders."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cx_insights.generate.files import ids


def customer_ids(numbers: np.ndarray) -> pa.Array:
    return ids("C", numbers, 7)


def nullable_ids(values: pa.Array, valid: np.ndarray) -> pa.Array:
    if valid.all():
        return values
    return pc.if_else(pa.array(valid), values, pa.scalar(None, pa.string()))
