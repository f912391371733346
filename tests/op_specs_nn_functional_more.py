# ruff: noqa: E501 - a declarative table reads best one row per line
"""Rows of the op table (tests/op_specs.py) for nn functional more ops; same conventions as there."""

from __future__ import annotations

import numpy as np  # noqa: F401
import op_refs as R  # noqa: F401
import op_spec_lib as L  # noqa: F401

SPECS: list = []
