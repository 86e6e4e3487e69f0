"""Ratchet baselines: checked-in lists of the external cases that pass (tests/baselines/).

A case in a baseline that no longer passes is a regression and fails its test. Cases that
newly pass are improvements: rerun the tests with ``AWRS_UPDATE_BASELINES=1`` to record them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

BASELINES = Path(__file__).resolve().parent / "baselines"


def ratchet(name: str, passing: set[str], considered: set[str]) -> tuple[list[str], list[str]]:
    """Compare with the baseline: (regressions, improvements), limited to ``considered`` ids.

    With AWRS_UPDATE_BASELINES=1 the baseline is rewritten (ids outside ``considered`` are
    kept as they were)."""
    path = BASELINES / f"{name}.json"
    baseline = set(json.loads(path.read_text())) if path.exists() else set()
    regressions = sorted((baseline & considered) - passing)
    improvements = sorted(passing - baseline)
    if os.environ.get("AWRS_UPDATE_BASELINES") == "1":
        path.write_text(json.dumps(sorted((baseline - considered) | passing), indent=0) + "\n")
    return regressions, improvements
