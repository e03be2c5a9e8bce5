"""The small registries that turn tokenizer.json sections into component objects, keyed by ``type``.

Each component module keeps one ``Registry``; a class joins it with ``@registry.register("Name")``
and is built from its JSON object by its ``from_config``. Adding a component is therefore one class.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import TokenizerError


class Registry:
    def __init__(self, section: str):
        self.section = section  # "normalizer", "pre-tokenizer", ... as written in messages
        self.classes: dict[str, Any] = {}

    def register(self, *names: str) -> Callable:
        def add(cls):
            for name in names:
                self.classes[name] = cls
            return cls
        return add

    def build(self, config: Any):
        """The component for a JSON object, or None for JSON null."""
        if config is None:
            return None
        if not isinstance(config, dict):
            raise TokenizerError(f"tokenizer.json: the {self.section} must be an object or null, not "
                                 f"{type(config).__name__}; the file is not a tokenizers tokenizer.json")
        kind = config.get("type")
        cls = self.classes.get(kind)
        if cls is None:
            supported = ", ".join(sorted(self.classes))
            raise TokenizerError(f'tokenizer.json: {self.section} type "{kind}" is not supported (supported: {supported})')
        try:
            return cls.from_config(config)
        except TokenizerError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise TokenizerError(f'tokenizer.json: {self.section} "{kind}" is malformed ({_describe(exc)}); '
                                 "re-save the tokenizer with the tokenizers library") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    return " ".join(str(exc).split()) or type(exc).__name__


def get(config: dict, key: str, default: Any = None, kind: type | tuple | None = None) -> Any:
    """``config[key]`` (``default`` if absent or null), checked to be of ``kind``."""
    value = config.get(key)
    if value is None:
        return default
    if kind is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is int)):
        raise TypeError(f"{key!r} must be {_kind_name(kind)}, not {value!r}")
    return value


def _kind_name(kind) -> str:
    names = {bool: "true or false", int: "an integer", str: "a string", list: "a list", dict: "an object",
             float: "a number"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)
