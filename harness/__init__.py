"""Shared core of the restoration benchmark: images, degradation, metrics, registry, results."""
