"""Hypothesis strategies and bounded settings shared by the property tests."""

import types
import typing
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from media import OPERATIONS

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
"""The integers msgpack can carry."""


def bounded(max_examples: int) -> settings:
    """Settings that keep a property test to a few seconds on 2 cores.

    No example database: the runs leave nothing behind in the working tree.
    """
    return settings(
        max_examples=max_examples,
        deadline=2_000,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
)
"""Every kind of scalar a msgpack map can hold, NaN and infinities included."""

MSGPACK_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=12,
)
"""Arbitrary values that msgpack encodes: scalars, lists and string-keyed maps."""

PLAIN_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        INT64,
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.binary(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=12,
)
"""Values that come back from a msgpack round trip equal to what went in."""


def for_hint(hint: Any) -> st.SearchStrategy:
    """Valid values for one field's type hint, as the schemas declare them."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_hint(arg) for arg in typing.get_args(hint)))
    if hint is type(None):
        return st.none()
    if hint is str:
        return st.text(max_size=30)
    if hint is int:
        return INT64
    if hint is float:
        return st.floats(allow_nan=False)
    if hint is bool:
        return st.booleans()
    if origin is dict or hint is dict:
        return st.dictionaries(st.text(max_size=10), PLAIN_VALUES, max_size=5)
    raise AssertionError(f"no strategy for type hint {hint!r}")


def operation_names() -> st.SearchStrategy[str]:
    """Names from the catalog, near misses, and anything at all."""
    known = sorted({name for ops in OPERATIONS.values() for name in ops})
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known).map(str.upper),
        st.sampled_from(known).map(lambda name: f" {name}"),
        st.text(max_size=20),
    )


def param_names() -> st.SearchStrategy[str]:
    """Parameter names from the catalog and anything at all."""
    known = sorted(
        {
            p.name
            for ops in OPERATIONS.values()
            for op in ops.values()
            for p in op.params
        }
    )
    return st.one_of(st.sampled_from(known), st.text(max_size=15))


RAW_PARAM_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**5000), max_value=10**5000),
    st.floats(),
    st.text(max_size=30),
    st.from_regex(r"\s*-?\d{1,6}(\.\d{1,3})?\s*", fullmatch=True),
    st.sampled_from(["true", "off", "h264", "VP9", "jpg", "vertical", "nan", "1e999"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
"""What a form field or a JSON `params` object may hold for one parameter."""
