"""The widerface task."""
