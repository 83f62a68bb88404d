"""Replace personal data in text: e-mail addresses and public IP addresses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence

from blocks.base import BaseFormatter

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
IPV4_REGEX = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
# RFC 5322-style address: dot-atom local part, then a dotted host name or a [literal].
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_LITERAL = rf"\[(?:{_OCTET}\.){{3}}(?:{_OCTET}|[A-Za-z0-9-]*[A-Za-z0-9]:)]"
EMAIL_REGEX = rf"\b{_ATOM}(?:\.{_ATOM})*@(?:(?:{_LABEL}\.)+{_LABEL}|{_LITERAL})"

DEFAULT_EMAIL_REPLACEMENT = ("email@example.com", "firstname.lastname@example.org")
# Addresses that answered no ping when DataTrove picked them; used in turn.
DEFAULT_IP_REPLACEMENT = (
    "22.214.171.124",
    "126.96.36.199",
    "188.8.131.52",
    "184.108.40.206",
    "220.127.116.11",
    "18.104.22.168",
)


class PIIReplacer:
    """Substitute every match of ``regex`` that passes ``validator`` with the next replacement.

    Replacements are used in turn, and the turn carries over from one text to the next.
    """

    def __init__(
        self,
        regex: str,
        replacements: Sequence[str] | str,
        validator: Callable[[str], bool] | None = None,
    ) -> None:
        self.regex = re.compile(regex)
        self.replacements = (
            (replacements,) if isinstance(replacements, str) else tuple(replacements)
        )
        if not self.replacements:
            raise ValueError("at least one replacement is needed")
        self.validator = validator
        self._turn = 0

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if self.validator is not None and not self.validator(found):
            return found
        out = self.replacements[self._turn]
        self._turn = (self._turn + 1) % len(self.replacements)
        return out

    def replace(self, text: str) -> str:
        return self.regex.sub(self._replace, text)


def is_public_ip(text: str) -> bool:
    """True for a globally routable address; private, loopback and reserved ranges are not."""
    try:
        return ipaddress.ip_address(text).is_global
    except ValueError:
        return False


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class PIIFormatter(BaseFormatter):
    """Replace e-mail addresses and IP addresses (by default only public ones) in the text.

    ``email_replacement`` / ``ip_replacement`` are one string or a list used in turn.
    Private, loopback, link-local and reserved IPv4 ranges are left alone unless
    ``only_remove_public_ips=False``. Counts ``changed`` documents.
    """

    name = "PIIFormatter"

    def __init__(
        self,
        remove_emails: bool = True,
        remove_ips: bool = True,
        only_remove_public_ips: bool = True,
        email_replacement: Sequence[str] | str = DEFAULT_EMAIL_REPLACEMENT,
        ip_replacement: Sequence[str] | str = DEFAULT_IP_REPLACEMENT,
    ) -> None:
        super().__init__()
        self.remove_emails = remove_emails
        self.remove_ips = remove_ips
        self.only_remove_public_ips = only_remove_public_ips
        self.emails_replacer = PIIReplacer(EMAIL_REGEX, email_replacement)
        self.ip_replacer = PIIReplacer(
            IPV4_REGEX,
            ip_replacement,
            validator=is_public_ip if only_remove_public_ips else is_ip,
        )

    def format(self, text: str) -> str:
        if self.remove_emails and "@" in text:
            text = self.emails_replacer.replace(text)
        if self.remove_ips and "." in text:
            text = self.ip_replacer.replace(text)
        return text
