"""Hypothesis strategies derived from the wire models (WIRE-009).

:func:`strategy_for` walks a pydantic model's fields (their annotations and the
``annotated_types`` constraints pydantic keeps as metadata) and builds a strategy for valid
values, so a new field or a changed constraint changes the generated data without anyone
editing a strategy by hand. Implementers of other languages can use the same strategies to
generate JSON for their own round-trip tests (``model.to_json_dict()``).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["json_values", "strategy_for"]

#: JSON values: what ``Any`` fields such as ``details`` and ``state`` may hold.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def _integers(metadata: list[Any]) -> st.SearchStrategy[int]:
    low: int | None = None
    high: int | None = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = int(item.ge)  # type: ignore[call-overload]
        elif isinstance(item, annotated_types.Gt):
            low = int(item.gt) + 1  # type: ignore[call-overload]
        elif isinstance(item, annotated_types.Le):
            high = int(item.le)  # type: ignore[call-overload]
        elif isinstance(item, annotated_types.Lt):
            high = int(item.lt) - 1  # type: ignore[call-overload]
    return st.integers(min_value=low, max_value=high)


def strategy_for(annotation: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    """A strategy for valid values of ``annotation`` (a model class or a type hint)."""
    metadata = list(metadata or [])
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = get_args(annotation)
        for item in extra:
            if isinstance(item, FieldInfo):
                metadata.extend(item.metadata)
            else:
                metadata.append(item)
        return strategy_for(inner, metadata)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_strategy(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of([strategy_for(arg, metadata) for arg in get_args(annotation)])
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation)
        return st.lists(strategy_for(item), max_size=3)
    if origin is dict:
        key, value = get_args(annotation)
        return st.dictionaries(strategy_for(key), strategy_for(value), max_size=3)
    if annotation is Any:
        return json_values
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return _integers(metadata)
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if annotation is str:
        return st.text(max_size=12)
    raise TypeError(f"no strategy for {annotation!r}")


def _model_strategy(model: type[BaseModel]) -> st.SearchStrategy[BaseModel]:
    fields = {
        name: strategy_for(info.annotation, list(info.metadata))
        for name, info in model.model_fields.items()
    }
    return st.fixed_dictionaries(fields).map(lambda values: model(**values))
