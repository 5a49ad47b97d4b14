"""The models a server serves, by name, with a default."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .errors import FailedPrecondition, NotFound
from .models import LoadedModel


@dataclass
class ModelRegistry:
    """Thread-safe name -> LoadedModel map with a default model."""

    _models: dict[str, LoadedModel] = field(default_factory=dict)
    _default: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, model: LoadedModel, default: bool = False) -> None:
        """Register ``model`` under its name; the first model added becomes the default."""
        with self._lock:
            self._models[model.name] = model
            if default or self._default is None:
                self._default = model.name

    def get(self, name: str | None = None) -> LoadedModel:
        """Model called ``name`` (the default when None); NotFound lists the known names."""
        with self._lock:
            key = self._default if not name else name
            if key is None or key not in self._models:
                known = ", ".join(sorted(self._models)) or "none"
                raise NotFound(f"unknown model '{name or ''}'; known models: {known}")
            return self._models[key]

    def remove(self, name: str) -> LoadedModel:
        """Stop serving ``name``; the default model cannot be removed (FailedPrecondition)."""
        with self._lock:
            if name not in self._models:
                raise NotFound(f"unknown model '{name}'; known models: {', '.join(sorted(self._models)) or 'none'}")
            if name == self._default:
                raise FailedPrecondition(f"model '{name}' is the default model and cannot be unloaded")
            return self._models.pop(name)

    def list(self) -> list[LoadedModel]:
        """All registered models, sorted by name."""
        with self._lock:
            return [self._models[key] for key in sorted(self._models)]

    @property
    def default_name(self) -> str | None:
        """Name of the default model, None while empty."""
        with self._lock:
            return self._default
