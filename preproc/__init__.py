"""Restorers: network families, checkpoint loaders, training, and the preprocessors built on them."""
