"""Hypothesis profiles for the property tests.

The default profile keeps the suite quick and reproducible (a dozen
derandomized examples per property); the ``long`` profile searches with
fresh random examples, many more of them.  Choose with the environment
variable ``DIPLOSIM_HYPOTHESIS_PROFILE``:

    .venv/bin/pytest tests/properties                                       # default: 12 examples each
    DIPLOSIM_HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/properties       # 500 examples each

Each property draws worlds of one fixed bucket of shapes (see
``random_worlds``), so the model compiles once per program, not per example.
A failure prints the minimal example and a ``@reproduce_failure`` blob.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=True)
settings.register_profile("default", max_examples=12, derandomize=True, **COMMON)
settings.register_profile("long", max_examples=500, **COMMON)
settings.load_profile(os.environ.get("DIPLOSIM_HYPOTHESIS_PROFILE", "default"))
