"""Filters: keep or drop documents, counting drop reasons."""

from blocks.filters.c4_badwords import C4BadWordsFilter
from blocks.filters.c4_paragraph import C4ParagraphFilter
from blocks.filters.c4_quality import C4QualityFilter
from blocks.filters.fasttext_classifier import FastTextClassifierFilter
from blocks.filters.fineweb_quality import FineWebQualityFilter
from blocks.filters.gopher_quality import GopherQualityFilter
from blocks.filters.gopher_repetition import GopherRepetitionFilter
from blocks.filters.lambda_filter import LambdaFilter
from blocks.filters.language import LanguageFilter
from blocks.filters.regex import RegexFilter
from blocks.filters.sampler import SamplerFilter
from blocks.filters.url_filter import URLFilter

__all__ = [
    "C4BadWordsFilter",
    "C4ParagraphFilter",
    "C4QualityFilter",
    "FastTextClassifierFilter",
    "FineWebQualityFilter",
    "GopherQualityFilter",
    "GopherRepetitionFilter",
    "LambdaFilter",
    "LanguageFilter",
    "RegexFilter",
    "SamplerFilter",
    "URLFilter",
]
