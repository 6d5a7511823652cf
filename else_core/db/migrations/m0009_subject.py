"""The Subject of an e-mail, for search by subject (issue 15).

Postfix logs no Subject unless told to; the postfix role's header_checks INFO rule
(``postfix_log_subject``) makes cleanup log it, and the parser decodes it. NULL means
"not logged". A trigram index on the lower-cased text serves the substring search
("contains") that people use for subjects; it gets the same 16 MB pending list as the
other trigram indexes so a bulk import stays fast.
"""

SQL = r"""
ALTER TABLE emails ADD COLUMN subject text;
CREATE INDEX emails_subject_trgm ON emails USING gin (lower(subject) gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384);
"""
