"""The base layer: what every app shares and none owns (see docs/architecture.md)."""
