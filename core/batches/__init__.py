"""Batches (委案批次): one hand-over of cases under a contract, and the category settings."""
