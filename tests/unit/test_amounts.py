"""Money amounts: the fast digit check lets through exactly what pydantic's own max_digits and
decimal_places checks let through, and refuses the rest with pydantic's own errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insurance_agent.models import CENT, Amount, _amount_text
from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError

# Amount as it was written before the fast check: pydantic's constraints alone.
PYDANTICS = TypeAdapter(
    Annotated[
        Decimal,
        BeforeValidator(_amount_text),
        Field(max_digits=15, decimal_places=2, allow_inf_nan=False),
        AfterValidator(lambda amount: amount.quantize(CENT)),
    ]
)
OURS: TypeAdapter[Decimal] = TypeAdapter(Amount)


def _outcome(adapter: TypeAdapter[Any], value: object) -> tuple[str, object]:
    try:
        return "ok", str(adapter.validate_python(value))
    except ValidationError as exc:
        return "refused", [(e["type"], e["msg"], str(e.get("ctx"))) for e in exc.errors()]


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "0.00",
        "1250.5",
        "-3.10",
        "9999999999999.99",
        "10000000000000",
        "1.234",
        "1.230",
        "12345678901234",
        Decimal("1E+2"),
        Decimal("1.2E-3"),
        Decimal("0E-7"),
        Decimal("1.00000"),
        Decimal("9999999999999.999"),
        Decimal("123456789012345.0"),
        12.5,
        3,
        "NaN",
        Decimal("Infinity"),
        Decimal("-0.001"),
        "0.1",
        "1e3",
    ],
)
def test_the_fast_check_agrees_with_pydantics(value: object) -> None:
    assert _outcome(OURS, value) == _outcome(PYDANTICS, value)


@settings(max_examples=400, deadline=None)
@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.builds(Decimal, st.integers(-(10**17), 10**17)).map(lambda d: d.scaleb(-3))
)
def test_any_decimal_gets_pydantics_answer(value: Decimal) -> None:
    assert _outcome(OURS, value) == _outcome(PYDANTICS, value)
