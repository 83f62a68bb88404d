"""Summary statistics blocks (DocStats, LineStats, ...), their merger, and the metric types."""

from blocks.metrics import MetricStats, MetricStatsDict
from blocks.stats.base import DEFAULT_TOP_K_CONFIG, BaseStats, TopKConfig
from blocks.stats.doc_stats import DocStats
from blocks.stats.lang_stats import LangStats
from blocks.stats.line_stats import LineStats
from blocks.stats.merger import StatsMerger
from blocks.stats.paragraph_stats import ParagraphStats
from blocks.stats.sentence_stats import SentenceStats
from blocks.stats.token_stats import TokenStats
from blocks.stats.word_stats import WordStats

__all__ = [
    "DEFAULT_TOP_K_CONFIG",
    "BaseStats",
    "DocStats",
    "LangStats",
    "LineStats",
    "MetricStats",
    "MetricStatsDict",
    "ParagraphStats",
    "SentenceStats",
    "StatsMerger",
    "TokenStats",
    "TopKConfig",
    "WordStats",
]
