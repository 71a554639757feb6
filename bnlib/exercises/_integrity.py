"""Notice (and undo) changes made to the checkers or their references after import.

A submission could make a wrong answer pass by rebinding what a check relies
on: ``bnlib.exercises._judge.rel_error = lambda a, b: 0.0``, a ``check_*``
function, a reference such as ``bnlib.batchnorm.batchnorm_forward``, a
function's ``__code__``, or an entry of a table of mistakes. :func:`snapshot`
records, when the package is imported, every binding of the exercise modules
and of the core modules they compare with, the code and defaults of their
functions, the contents of their module-level tables and the members of their
classes. :func:`changed` lists what differs now (every check calls it before
and after running the student's code, and fails if anything changed);
:func:`restore` puts it all back (the graded hidden tests call it before
checking again).

In-process protection has limits: code running in the same interpreter can
also change numpy or this module itself. The instructor page says so.
"""
from __future__ import annotations

import sys
import types

__all__ = ["snapshot", "changed", "restore", "CORE_MODULES"]

CORE_MODULES = ("bnlib._checks", "bnlib.gradcheck", "bnlib.graph", "bnlib.batchnorm", "bnlib.norms",
                "bnlib.layer")
"""The core modules whose functions the checkers use as references."""

_PREFIX = "bnlib.exercises"
_OWN_STATE = ("bnlib.exercises._integrity", "bnlib.exercises._limits",   # change legitimately
              "bnlib.exercises.targets")
_MISSING = object()
_SKIP_CLASS_KEYS = {"__dict__", "__weakref__", "__doc__", "__annotations__", "__parameters__",
                    "_abc_impl", "__abstractmethods__",
                    "__slotnames__"}    # copy and pickle cache this on the class
_records: list = []
_seen: set = set()
_modules: set = set()


def _owned(obj) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith("bnlib")


def _record(label: str, obj, depth: int) -> None:
    """Record what can change inside ``obj`` (a function, class, table or bnlib object)."""
    if depth > 4 or id(obj) in _seen:
        return
    if isinstance(obj, types.FunctionType) and _owned(obj):
        _seen.add(id(obj))
        _records.append(("func", label, obj, (obj.__code__, obj.__defaults__, obj.__kwdefaults__)))
    elif isinstance(obj, type) and _owned(obj):
        _seen.add(id(obj))
        members = {k: v for k, v in vars(obj).items() if k not in _SKIP_CLASS_KEYS}
        _records.append(("class", label, obj, members))
        for k, v in members.items():
            _record(f"{label}.{k}", getattr(v, "__func__", getattr(v, "fget", v)), depth + 1)
    elif isinstance(obj, dict):
        _seen.add(id(obj))
        _records.append(("dict", label, obj, dict(obj)))
        for k, v in obj.items():
            _record(f"{label}[{k!r}]", v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        _seen.add(id(obj))
        if isinstance(obj, list):
            _records.append(("list", label, obj, list(obj)))
        for i, v in enumerate(obj):
            _record(f"{label}[{i}]", v, depth + 1)
    elif _owned(type(obj)) and hasattr(obj, "__dict__") and not isinstance(obj, types.ModuleType):
        _seen.add(id(obj))
        _records.append(("attrs", label, obj, dict(vars(obj))))
        for k, v in vars(obj).items():
            _record(f"{label}.{k}", v, depth + 1)


def snapshot() -> None:
    """Record every exercise module and core module not recorded yet (call after importing them)."""
    names = [n for n in sorted(sys.modules) if n == _PREFIX or n.startswith(_PREFIX + ".")]
    for name in names + [n for n in CORE_MODULES if n in sys.modules]:
        module = sys.modules[name]
        if name in _modules or module is None or name in _OWN_STATE:
            continue
        _modules.add(name)
        members = {k: v for k, v in vars(module).items()
                   if not k.startswith("__") and not isinstance(v, types.ModuleType)}
        _records.append(("module", name, module, members))
        for k, v in members.items():
            if _owned(v) or isinstance(v, (dict, list, tuple)) or _owned(type(v)):
                _record(f"{name}.{k}", v, 1)


def _differs(kind, obj, saved) -> list[str]:
    """What differs from ``saved`` for one record, as suffixes of its label."""
    if kind == "func":
        return [] if (obj.__code__, obj.__defaults__, obj.__kwdefaults__) == saved else [".__code__"]
    if kind == "list":
        same = len(obj) == len(saved) and all(a is b for a, b in zip(obj, saved))
        return [] if same else [" (contents)"]
    current = obj if kind == "dict" else vars(obj)
    name = (lambda k: f"[{k!r}]") if kind == "dict" else (lambda k: f".{k}")
    out = [name(k) for k, v in saved.items() if current.get(k, _MISSING) is not v]
    if kind in ("class", "dict"):      # an added member can override an inherited or instance one
        out += [name(k) for k in current if k not in saved and k not in _SKIP_CLASS_KEYS]
    return out


def changed() -> list[str]:
    """Everything that differs from the snapshot, as dotted names (empty if nothing did).

    Exercise modules imported since the last snapshot are recorded first.
    """
    snapshot()
    return [label + part for kind, label, obj, saved in _records for part in _differs(kind, obj, saved)]


def restore() -> list[str]:
    """Put back everything recorded; return what had changed."""
    was = changed()
    for kind, _, obj, saved in _records:
        if kind == "func":
            obj.__code__, obj.__defaults__, obj.__kwdefaults__ = saved
        elif kind == "list":
            obj[:] = saved
        elif kind == "dict":
            obj.clear()
            obj.update(saved)
        else:
            space = vars(obj)
            if kind == "class":
                for k in [k for k in space if k not in saved and k not in _SKIP_CLASS_KEYS]:
                    delattr(obj, k)
            for k, v in saved.items():
                if space.get(k, _MISSING) is not v:
                    (object.__setattr__ if kind == "attrs" else setattr)(obj, k, v)
    return was
