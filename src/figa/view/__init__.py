"""`figa view`: a self-contained HTML page of SPA pairs with token-level edit labels and FIGA weights."""

from .page import ViewConfig, build_page, pairs_for_view

__all__ = ["ViewConfig", "build_page", "pairs_for_view"]
