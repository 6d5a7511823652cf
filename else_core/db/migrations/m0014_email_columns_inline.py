"""Keep an e-mail's short columns in its row; only the document goes to TOAST.

m0002 gave ``emails`` a ``toast_tuple_target`` of 128 bytes so that the JSON document
(~1-3 kB) lives in TOAST and a row stays small for scans. But PostgreSQL meets that
target by moving out the biggest remaining values one after the other, so once the
document was out, the Message-ID, the queue IDs and often the sender followed: a row of
a 2 kB+ e-mail took 2.3 TOAST entries on average (207,021 for the 90,600 e-mails of the
dense benchmark log), each a heap row and an index entry in the TOAST table, and a search
reading one of those columns fetched it back from there. Storage MAIN keeps a value in
the row unless the row would exceed a page's worth; the document alone goes out.

A catalog change only, instant on any size: stored rows keep their TOAST entries (both
stay readable) and rows written from now on keep their short columns inline.
"""

SQL = r"""
ALTER TABLE emails
    ALTER COLUMN id SET STORAGE MAIN,
    ALTER COLUMN message_id SET STORAGE MAIN,
    ALTER COLUMN host SET STORAGE MAIN,
    ALTER COLUMN sender SET STORAGE MAIN,
    ALTER COLUMN sender_domain SET STORAGE MAIN,
    ALTER COLUMN client SET STORAGE MAIN,
    ALTER COLUMN client_ip SET STORAGE MAIN,
    ALTER COLUMN helo SET STORAGE MAIN,
    ALTER COLUMN sasl_username SET STORAGE MAIN,
    ALTER COLUMN status SET STORAGE MAIN,
    ALTER COLUMN direction SET STORAGE MAIN,
    ALTER COLUMN queue_ids SET STORAGE MAIN,
    ALTER COLUMN subject SET STORAGE MAIN;
"""
