"""Fewer index entries per imported e-mail: no trigram index on delivery responses.

Measured on an e-mail-dense log (bench/import, ~14 lines per e-mail): the trigram GIN
index on email_recipients.response (every reply text, ~100 characters, so ~100 index
entries per recipient) cost as much server CPU as every other search index together
(~20% of the database's work of an import). A substring search on the server's reply
is rare and almost always narrowed by time, status or address, which the remaining
indexes serve; without such a filter it scans email_recipients (docs/store.md).
"""

SQL = r"""
DROP INDEX IF EXISTS email_recipients_response_trgm;
"""
