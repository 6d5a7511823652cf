"""Plain words for answers and refusals (issue 15): a 451 is greylisting only when the
server says so, and refusals get their Postfix restriction in words."""

from __future__ import annotations

import pytest

from webui.explain import reject_words, response_words


@pytest.mark.parametrize(
    ("response", "words"),
    [
        ("451 4.3.0 Temporary lookup failure, try again later", "a temporary refusal"),
        ("451 4.7.1 You have been greylisted, come back later", "greylisting"),
        ("451-You have been greylisted. This is part of our anti-spam measures", "greylisting"),
    ],
)
def test_only_greylisting_is_called_greylisting(response, words):
    assert (response_words(response) or "").startswith(words)


@pytest.mark.parametrize(
    ("code", "dsn", "reason", "words"),
    [
        ("554", "5.7.1", "<a@x>: Relay access denied", "does not pass mail on"),
        (
            "550",
            "5.1.1",
            "<a@x>: Recipient address rejected: User unknown in virtual mailbox table",
            "mailbox does not exist here",
        ),
        (
            "450",
            "4.7.1",
            "<>: Sender address rejected: You are sending too many emails",
            "sender's address was refused",
        ),
        (
            "554",
            "5.7.1",
            "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "blocklist",
        ),
        (None, None, None, "refused"),
    ],
)
def test_refusals_are_explained(code, dsn, reason, words):
    assert words in reject_words(code, dsn, reason)
