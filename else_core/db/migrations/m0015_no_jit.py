"""No JIT compilation for ELSE's database: its queries are short, and JIT made them slow.

PostgreSQL compiles a query with LLVM once its estimated cost passes ``jit_above_cost``
(100,000), and inlines and optimizes the code past 500,000. A search over a day of an
e-mail-dense server passes both: measured on the dense benchmark log (90,600 e-mails),
the compilation alone took 47-549 ms of queries that run in 5-150 ms, e.g. "status
bounced, one day" 247 ms with JIT and 94 ms without, "sender domain" 105 ms and 75 ms.
JIT pays off for analytic queries that run for seconds; ELSE's run while someone waits.

Set for this database (the owner may; it holds on any server, packaged or not, for every
role that connects to it), for sessions that start after the upgrade.
"""

SQL = r"""
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END $$;
"""
