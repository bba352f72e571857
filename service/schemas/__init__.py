"""Request and response schemas, one module per domain (separate Create and Public shapes)."""
