"""Other people's edit data turned into SPA records (docs/guides/import.md)."""

from .lamp import ImportConfig, import_records

__all__ = ["ImportConfig", "import_records"]
