"""kitrain: the reproducible training pipeline of Wikipedia's multilingual revert-risk model."""

__version__ = "0.1.0"
