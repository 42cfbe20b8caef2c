"""`figa studio`: people write minimal revisions and judge edit labels in the browser (docs/guides/studio.md)."""
