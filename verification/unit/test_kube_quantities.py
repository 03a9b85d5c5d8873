"""The one Kubernetes quantity parser (harness/kube/quantities.py): CPU in cores, memory in bytes."""

from __future__ import annotations

import pytest

from harness.kube.quantities import parse_cpu, parse_memory

pytestmark = pytest.mark.harness
# The static tier judges limits and the 2 GiB / 2 CPU budget in parsed quantities (FR-013, FR-025):
# a quantity misread, or a bad one read as 0, would pass any limit and the budget.
QUANTITY_GUARDS = pytest.mark.guards("FR-013", "FR-025")


@QUANTITY_GUARDS
@pytest.mark.parametrize(("quantity", "cores"), [("250m", 0.25), ("400m", 0.4), ("1000m", 1.0), ("1m", 0.001)])
def test_millicores(quantity, cores):
    assert parse_cpu(quantity) == pytest.approx(cores)


@QUANTITY_GUARDS
@pytest.mark.parametrize(("quantity", "cores"), [("1", 1.0), ("1.5", 1.5), (2, 2.0), (0.5, 0.5)])
def test_plain_cores(quantity, cores):
    assert parse_cpu(quantity) == pytest.approx(cores)


@QUANTITY_GUARDS
@pytest.mark.parametrize(("quantity", "size"), [
    ("384Mi", 384 * 2**20), ("1Gi", 2**30), ("0.5Gi", 2**29), ("500M", 500 * 10**6), ("1G", 10**9),
    ("64Ki", 2**16), ("128974848", 128974848), (134217728, 134217728)])
def test_memory_binary_and_decimal_suffixes(quantity, size):
    assert parse_memory(quantity) == size


def test_memory_rounds_up_to_whole_bytes():
    assert parse_memory("1500m") == 2  # 1.5 bytes


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_is_zero_unless_required(empty):
    assert parse_cpu(empty) == 0.0 and parse_memory(empty) == 0
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_memory(empty, required=True)
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_cpu(empty, required=True)


@QUANTITY_GUARDS
@pytest.mark.parametrize("bad", ["lots", "12 MB", "1GB", "-1Mi", "-100m", "NaN"])
def test_what_kubernetes_refuses_is_refused(bad):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_memory(bad)
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_cpu(bad)
