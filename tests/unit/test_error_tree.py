"""One exception tree: every error class merkle defines is drawn in `merkle.errors`, under
its parent, and a failure becomes one value whatever raised it."""

from __future__ import annotations

import importlib
import pkgutil
import re

import merkle
from merkle import errors
from merkle.context.generation.prompt import PromptError
from merkle.context.queue import RequestFailed
from merkle.errors import (
    GenerationFailure,
    MerkleError,
    QueueFull,
    StoreBusy,
    StoreCorrupt,
    failure_of,
)
from merkle.providers.base import ErrorClass, ProviderError

# A drawn line: the tree's guides (four characters a level), then a class name.
_DRAWN = re.compile(r"^(?P<guides>(?:[│ ]   |├── |└── )*)(?P<name>[A-Z]\w+)", re.M)


def merkle_errors() -> list[type[MerkleError]]:
    """Every subclass of `MerkleError` defined in a module of the package."""
    for module in pkgutil.walk_packages(merkle.__path__, "merkle."):
        if module.name != "merkle.__main__":  # importing it runs the command line
            importlib.import_module(module.name)
    found: list[type[MerkleError]] = []
    pending = [MerkleError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(sub for sub in cls.__subclasses__() if sub.__module__.startswith("merkle"))
    return found


def drawn_parents() -> dict[str, str]:
    """Each class drawn in the docstring of `merkle.errors`, with the class above it."""
    tree = (errors.__doc__ or "").split("```")[1]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for match in _DRAWN.finditer(tree):
        depth = len(match.group("guides")) // 4
        name = match.group("name")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_every_error_class_is_drawn_under_its_own_parent() -> None:
    parents = drawn_parents()
    for cls in merkle_errors():
        if cls is MerkleError:
            continue
        assert cls.__name__ in parents, f"{cls.__module__}.{cls.__name__} is not drawn"
        assert parents[cls.__name__] == cls.__mro__[1].__name__, cls.__name__


def test_every_drawn_class_exists() -> None:
    defined = {cls.__name__ for cls in merkle_errors()}
    assert set(drawn_parents()) <= defined


def test_a_provider_error_carries_its_failure_value() -> None:
    error = ProviderError(ErrorClass.RATE_LIMITED, "slow down", retry_after_s=2.5)
    assert failure_of(error) == GenerationFailure(
        error_class="rate_limited", message="slow down", retryable=True, retry_after_s=2.5
    )
    assert failure_of(ProviderError(ErrorClass.AUTH, "bad key")).retryable is False


def test_failures_of_other_origins_are_values_too() -> None:
    assert failure_of(PromptError("secret_file", "never read")) == GenerationFailure(
        error_class="secret_file", message="never read"
    )
    assert failure_of(QueueFull("full")).error_class == "queue_full"
    busy = failure_of(StoreBusy("locked"))
    assert (busy.error_class, busy.retryable) == ("store_busy", True)
    assert failure_of(StoreCorrupt("damaged")).retryable is False
    assert failure_of(RuntimeError("the worker went away")) == GenerationFailure(
        error_class="RuntimeError", message="the worker went away"
    )
    stored = GenerationFailure(error_class="auth", message="a.py: bad key")
    assert failure_of(RequestFailed(stored, attempts=1)) == stored
