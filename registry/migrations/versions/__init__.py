"""Migration revisions, one module per schema version."""
