"""Batch: checking input, the SQL models and the engines that run them, publishing scores."""
