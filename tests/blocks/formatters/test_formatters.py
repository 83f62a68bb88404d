"""PIIFormatter, FTFYFormatter and SymbolLinesFormatter."""

from __future__ import annotations

import pytest

from blocks.document import Document
from blocks.formatters import FTFYFormatter, PIIFormatter, SymbolLinesFormatter
from blocks.text import words


def test_pii_replaces_emails_in_turn() -> None:
    pii = PIIFormatter()
    out = pii.format("Write to john.doe@gmail.com or to info@sub.example.co.uk today.")
    assert out == "Write to email@example.com or to firstname.lastname@example.org today."
    # the turn carries over to the next text
    assert pii.format("a@b.io") == "email@example.com"
    assert pii.format("no address @ here, not.an@email") == "no address @ here, not.an@email"


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("127.0.0.1", False),
        ("172.16.5.4", False),
        ("169.254.1.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
    ],
)
def test_pii_replaces_public_ips_only(ip: str, public: bool) -> None:
    out = PIIFormatter(ip_replacement="IP").format(f"server at {ip} answered")
    assert out == ("server at IP answered" if public else f"server at {ip} answered")
    everything = PIIFormatter(only_remove_public_ips=False, ip_replacement="IP")
    assert everything.format(f"server at {ip} answered") == "server at IP answered"


def test_pii_switches_and_custom_replacements() -> None:
    text = "mail x@y.com from 8.8.4.4"
    assert (
        PIIFormatter(remove_emails=False, ip_replacement="<ip>").format(text)
        == "mail x@y.com from <ip>"
    )
    assert PIIFormatter(remove_ips=False, email_replacement=["<e1>", "<e2>"]).format(
        text + " z@w.org"
    ) == ("mail <e1> from 8.8.4.4 <e2>")
    with pytest.raises(ValueError):
        PIIFormatter(email_replacement=[])


def test_pii_run_counts_changed_and_clears_word_cache() -> None:
    doc = Document("contact: me@host.com", "d")
    assert words(doc)[-1] == "me@host.com"
    block = PIIFormatter()
    out = list(block.run([doc, Document("nothing here", "e")]))
    assert out[0].text == "contact: email@example.com"
    assert words(out[0])[-1] == "email@example.com"
    assert block.stats.stats["changed"].total == 1
    assert block.stats.stats["forwarded"].total == 2


def test_ftfy_fixes_encoding_but_keeps_style() -> None:
    ftfy = FTFYFormatter()
    assert (
        ftfy.format("The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.")
        == "The Mona Lisa doesn’t have eyebrows."
    )
    assert ftfy.format("ﬁne “quotes” ＦＵＬＬ") == "ﬁne “quotes” ＦＵＬＬ"
    assert ftfy.format("bell\x07 char") == "bell char"
    assert (
        FTFYFormatter(uncurl_quotes=True, fix_latin_ligatures=True).format("ﬁne “quotes”")
        == 'fine "quotes"'
    )


def test_symbol_lines() -> None:
    text = "Title\n* * *\n---\nBody text.\n\n!!!\nEnd"
    assert SymbolLinesFormatter().format(text) == "Title\nBody text.\n\nEnd"
    assert (
        SymbolLinesFormatter(replace_char="\n").format(text) == "Title\n\n\nBody text.\n\n\n\nEnd"
    )
    # only the given symbols count
    assert (
        SymbolLinesFormatter(symbols_to_remove=["*"]).format(text)
        == "Title\n---\nBody text.\n\n!!!\nEnd"
    )
    assert SymbolLinesFormatter().format("a\n   \nb") == "a\n   \nb"
