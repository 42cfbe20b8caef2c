"""SPA curation: build FIGA training pairs from prompts (see `pipeline`)."""

from .pipeline import CurateConfig, run

__all__ = ["CurateConfig", "run"]
