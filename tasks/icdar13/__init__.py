"""The icdar13 task."""
