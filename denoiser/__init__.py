"""Pure machine learning for provenoise: noise models, networks, training, metrics.

This package knows nothing of databases, DVC or signing; the registry drives it and
records what it returns.
"""
