"""Summary statistics blocks (DocStats, WordStats, ...) and the mergeable metric types."""

from blocks.metrics import MetricStats, MetricStatsDict

__all__ = ["MetricStats", "MetricStatsDict"]
