"""SPA curation: build FIGA training pairs from prompts (see `pipeline`)."""

from .config import CurateConfig
from .pipeline import CurateResult, curate
from .report import summary_table

__all__ = ["CurateConfig", "CurateResult", "curate", "summary_table"]
