"""Extractors: HTML to plain text, each page in a sandbox child process."""

from blocks.extractors.base import SandboxedExtractor
from blocks.extractors.resiliparse import Resiliparse
from blocks.extractors.sandbox import ExtractorSandbox, SandboxError
from blocks.extractors.trafilatura import Trafilatura

__all__ = ["ExtractorSandbox", "Resiliparse", "SandboxError", "SandboxedExtractor", "Trafilatura"]
