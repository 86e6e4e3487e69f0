"""Ratchets over the official JSON-Schema-Test-Suite and JSONSchemaBench's labelled instances.

A case passes when ``accepts(json.dumps(instance))`` equals its label and, for valid
instances, every prefix of the serialisation is accepted. The baselines under ``baselines/``
list the cases that pass; a regression fails the test, an improvement asks for
``AWRS_UPDATE_BASELINES=1``.
"""

from __future__ import annotations

import warnings

import pytest

from tests.constraints.json_schema.conformance import bench_records, check_bench_record, run_suite
from tests.ratchet import ratchet

BENCH_SUBSETS = [
    "Github_trivial",
    "Github_easy",
    "Github_medium",
    "Github_hard",
    "Github_ultra",
    "Glaiveai2K",
    "JsonSchemaStore",
    "Kubernetes",
    "Snowplow",
    "WashingtonPost",
]
#: The fast suite checks the first schemas of every subset; make test-all checks them all.
BENCH_SLICE = 25


def _report(name, regressions, improvements):
    if improvements:
        warnings.warn(
            f"{len(improvements)} more {name} cases pass than the baseline lists; "
            "rerun with AWRS_UPDATE_BASELINES=1 to record them",
            stacklevel=2,
        )
    assert not regressions, f"{len(regressions)} {name} cases regressed, e.g. {regressions[:5]}"


@pytest.mark.parametrize("draft", ["draft2020-12", "draft7"])
@pytest.mark.parametrize("part", ["required", "format"])
def test_json_schema_test_suite_ratchet(draft, part):
    results = run_suite(draft, part)
    passing = {cid for cid, r in results.items() if r == "pass"}
    regressions, improvements = ratchet(f"suite-{draft}-{part}", passing, set(results))
    _report(f"{draft} {part}", regressions, improvements)
    supported = [r for r in results.values() if r != "unsupported"]
    assert supported and sum(r == "pass" for r in supported) / len(supported) > 0.95


def _bench(limit):
    results = {}
    invalidation = 0
    for subset in BENCH_SUBSETS:
        for record in bench_records(subset, limit):
            out = check_bench_record(record)
            results[f"{subset}/{record['id']}"] = out["status"]
            invalidation += out["invalidation"]
    return results, invalidation


def test_jsonschemabench_slice_ratchet():
    results, invalidation = _bench(BENCH_SLICE)
    assert invalidation == 0, "an invalid instance was accepted as complete"
    passing = {k for k, v in results.items() if v == "pass"}
    regressions, improvements = ratchet("jsonschemabench", passing, set(results))
    _report("JSONSchemaBench", regressions, improvements)


@pytest.mark.slow
def test_jsonschemabench_full_ratchet():
    results, invalidation = _bench(None)
    assert invalidation == 0, "an invalid instance was accepted as complete"
    passing = {k for k, v in results.items() if v == "pass"}
    regressions, improvements = ratchet("jsonschemabench", passing, set(results))
    _report("JSONSchemaBench", regressions, improvements)
    assert len(passing) / len(results) >= 0.90
