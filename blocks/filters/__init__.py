"""Filters: keep or drop documents, counting drop reasons."""

from blocks.filters.lambda_filter import LambdaFilter
from blocks.filters.regex import RegexFilter
from blocks.filters.sampler import SamplerFilter

__all__ = ["LambdaFilter", "RegexFilter", "SamplerFilter"]
