"""Runnable examples: ``python -m deepforge.examples.digits``."""
