"""Kubernetes resource quantities as numbers: CPU in cores, memory in bytes.

    parse_cpu("250m") == 0.25          parse_memory("384Mi") == 402653184
    parse_cpu("1.5") == 1.5            parse_memory("1G") == 10**9
    parse_cpu(None) == 0.0             parse_memory("") == 0

The one parser of the harness (policy checker, Docker translation of pod templates, cluster
preflight), on top of the Kubernetes client's ``parse_quantity``. The same rules for every caller:

* ``None`` and ``""`` mean "not set" and give 0, unless ``required=True`` refuses them
  (the policy checker: a request or limit that is written down must say something);
* anything Kubernetes does not accept as a resource quantity raises ``ValueError``
  ("not a Kubernetes quantity: ..."): garbage such as ``"lots"``, ``"12 MB"`` or ``"1GB"``,
  a negative value, NaN or infinity;
* memory is rounded up to whole bytes, as Kubernetes does.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

Quantity = str | int | float | None


def quantity(value: Quantity, *, required: bool = False) -> Decimal:
    """``value`` as a non-negative number (``"500m"`` → 0.5, ``"1Ki"`` → 1024); None/"" → 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"not a Kubernetes quantity: {value!r} (empty)")
        return Decimal(0)
    from kubernetes.utils import parse_quantity  # imported on first use: the client is slow to import

    try:
        number = parse_quantity(str(value).strip())
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"not a Kubernetes quantity: {value!r} (resources are finite and not negative)")
    return number


def parse_cpu(value: Quantity, *, required: bool = False) -> float:
    """CPU cores: ``"250m"`` → 0.25, ``"1.5"`` → 1.5, ``2`` → 2.0; None/"" → 0.0."""
    return float(quantity(value, required=required))


def parse_memory(value: Quantity, *, required: bool = False) -> int:
    """Bytes, rounded up: ``"256Mi"`` → 268435456, ``"1G"`` → 10**9, ``"129e6"`` → 129000000; None/"" → 0."""
    return int(quantity(value, required=required).to_integral_value(rounding=ROUND_CEILING))
