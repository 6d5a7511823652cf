"""Correlate parsed events into e-mails, streaming.

The correlator reads events in log order and keeps only what is still open: SMTP
sessions, queue files (transactions) that have not ended, and e-mails whose last
transaction ended less than ``linger`` seconds ago (a requeue or a late hop can still
join them). Memory therefore grows with the number of open transactions, not with the
length of the log, and finished e-mails come out of :meth:`Correlator.drain` as soon as
they are complete — the same object serves ``elsectl parse``, ``elsectl import`` and the
live ingest worker, which pickles it as its checkpoint.

Transactions are keyed by host and queue ID, and a queue ID seen again after its file
ended starts a new transaction, because short queue IDs are reused. Transactions join
into one e-mail through the explicit links Postfix and amavis log (``orig_queue_id=``,
``queued as``, ``queued_as:``, ``forwarded as``, ``notification: NEWQID``, pickup
``orig_id=``) and, failing those, through the same Message-ID and sender while the
other e-mail is still open.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from else_core.events import Fields
from else_core.model import Attempt, Email, Recipient, Reject, Transaction
from else_core.records import Event, field_values

# Whole-message decisions: after these the queue file is gone without a "removed".
_MESSAGE_STAGES = frozenset(("END-OF-MESSAGE", "DATA", "header", "body", "BDAT"))
_REJECT_ACTIONS = frozenset(("reject", "milter-reject", "proxy-reject"))
# Actions worth a standalone reject record (the NOQUEUE list of the WUI).
_REJECT_RECORD_ACTIONS = frozenset(
    (
        "reject",
        "reject_warning",
        "defer",
        "defer_if_permit",
        "defer_if_reject",
        "milter-reject",
        "proxy-reject",
    )
)
_DISCARD_ACTIONS = frozenset(("discard", "milter-discard"))
# Decisions that shape what happens to the whole queue file.
_TX_ACTIONS = frozenset(("hold", "discard", "filter", "redirect", "bcc"))
_LOCAL_IPS = frozenset(("127.0.0.1", "::1", "localhost"))
# A Message-ID shared by more queue files than this is a sender reusing one ID for
# everything (monitoring, broken scripts), not one e-mail's hops: joining them all would
# make one ever-growing e-mail whose upkeep grows with the log.
MSGID_JOIN_LIMIT = 64


def email_id(host: str, queue_id: str, first_seen: datetime | None) -> str:
    """A stable, URL-safe id for an e-mail: its first transaction's identity."""
    # In UTC: the same mail read from a file (+01:00) and from the database (UTC) must
    # get the same id.
    stamp = first_seen.astimezone(UTC).isoformat() if first_seen else ""
    return hashlib.blake2b(f"{host}|{queue_id}|{stamp}".encode(), digest_size=8).hexdigest()


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _tx_order(tx: Transaction) -> tuple[float, int]:
    """Log order: time first, then the line number (stamps often share a second)."""
    return (
        tx.first_seen.timestamp() if tx.first_seen else float("-inf"),
        tx.seqs[0] if tx.seqs else 0,
    )


@dataclass(slots=True, init=False)
class _Session:
    client_host: str
    client_ip: str
    since: datetime | None = None
    # NOQUEUE decisions (hold, discard, ...) smtpd made before the queue file existed:
    # they belong to the transaction the next "client=" line of this session opens.
    pending: list[dict[str, Any]] = field(default_factory=list)
    tls: str | None = None
    helo: str | None = None
    qids: list[str] = field(default_factory=list)
    # Recipients refused (NOQUEUE, at RCPT) before the first one was accepted: they belong
    # to the e-mail whose "client=" line this session logs next, else they stand alone.
    refused: list[Reject] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        client_host: str,
        client_ip: str,
        since: datetime | None = None,
        pending: list[dict[str, Any]] | None = None,
        tls: str | None = None,
        helo: str | None = None,
        qids: list[str] | None = None,
        refused: list[Reject] | None = None,
    ) -> None:
        self.client_host = client_host
        self.client_ip = client_ip
        self.since = since
        self.pending = [] if pending is None else pending
        self.tls = tls
        self.helo = helo
        self.qids = [] if qids is None else qids
        self.refused = [] if refused is None else refused


@dataclass(slots=True, init=False)
class _Group:
    """An e-mail under construction."""

    txs: list[Transaction]
    key: int = 0  # the serial of its first transaction: a stable handle across pickling
    links: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    # child (host, qid) -> (parent host, parent qid, kind of hop)
    completed_at: datetime | None = None
    emitted: bool = False
    dirty: bool = True
    absorbed: list[str] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        txs: list[Transaction],
        key: int = 0,
        links: dict[tuple[str, str], tuple[str, str, str]] | None = None,
        completed_at: datetime | None = None,
        emitted: bool = False,
        dirty: bool = True,
        absorbed: list[str] | None = None,
    ) -> None:
        self.txs = txs
        self.key = key
        self.links = {} if links is None else links
        self.completed_at = completed_at
        self.emitted = emitted
        self.dirty = dirty
        self.absorbed = [] if absorbed is None else absorbed

    @property
    def root(self) -> Transaction:
        """The first transaction that no other one in the e-mail leads to."""
        keys = {(t.host, t.queue_id) for t in self.txs}
        roots = [
            t for t in self.txs if self.links.get((t.host, t.queue_id), ("", ""))[:2] not in keys
        ]
        return min(roots or self.txs, key=_tx_order)

    @property
    def id(self) -> str:
        root = self.root
        return email_id(root.host, root.queue_id, root.first_seen)


# What a checkpoint holds: every attribute Correlator.__init__ sets. Spelled out because the
# compiled build (mypyc) makes Correlator a C extension class with no __dict__, which pickle
# cannot take apart by itself; one list serves both builds.
_CHECKPOINT_FIELDS = (
    "linger", "retry_wait", "_retry", "_greylisted", "stale_after", "clock", "_sessions",
    "_open", "_known", "_group", "_serial", "_by_qid", "_by_msgid", "_expect", "_done",
    "_out", "_next_sweep", "_dirty", "_aging",
)  # fmt: skip


class Correlator:
    """Streaming correlator; see the module docstring. Picklable as a whole."""

    def __init__(
        self,
        linger: float = 60.0,
        stale_after: float = 10 * 86400.0,
        retry_wait: float = 3600.0,
    ) -> None:
        self.linger = timedelta(seconds=linger)
        # An e-mail refused only for now (4xx) waits this long for the client's retry
        # (greylisting clients come back after minutes) before it goes out as finished.
        self.retry_wait = timedelta(seconds=retry_wait)
        self._retry: deque[tuple[datetime, _Group]] = deque()
        # Recipients refused for now (4xx at RCPT, no queue file: greylisting) by
        # (host, client IP, sender, recipient), oldest first, kept retry_wait long: the
        # client's retry, a new e-mail, shows them as its earlier steps.
        self._greylisted: dict[tuple[str, str, str, str], list[Reject]] = {}
        self.stale_after = timedelta(seconds=stale_after)
        self.clock: datetime | None = None
        self._sessions: dict[tuple[str, str, int | None], _Session] = {}
        self._open: dict[tuple[str, str], Transaction] = {}
        # every transaction of a not-yet-emitted e-mail, open or closed, by (host, qid)
        self._known: dict[tuple[str, str], Transaction] = {}
        self._group: dict[int, _Group] = {}  # Transaction.serial -> group
        self._serial = 0
        self._by_qid: dict[str, list[tuple[str, str]]] = {}  # queue id -> keys (cross-host links)
        self._by_msgid: dict[str, _Group] = {}
        self._expect: dict[str, tuple[str, str, str, str | None, datetime | None]] = {}
        # child qid -> (parent host, parent qid, kind, expected child host or None)
        self._done: deque[tuple[datetime, _Group]] = deque()
        self._out: list[Email | Reject] = []
        self._next_sweep: datetime | None = None
        # Groups changed since the last open_snapshots(), by key: the live worker asks
        # after every batch, and must not pay for every open e-mail each time.
        self._dirty: dict[int, _Group] = {}
        # Open queue files in the order they were last looked at by the stale sweep, with
        # the time that look-at was due: the sweep stops at the first one not yet due, so
        # its cost follows what it closes, not how many files are open.
        self._aging: dict[tuple[str, str], datetime] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        """Rebuilt by calling the class, then :meth:`__setstate__` (works compiled too)."""
        return (Correlator, (), self.__getstate__())

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _CHECKPOINT_FIELDS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A checkpoint pickled before a field existed still loads: what it lacks keeps the
        fresh value __init__ gave it (the worker's STATE_VERSION is the real guard; this
        keeps a missed bump from stopping ingest)."""
        Correlator.__init__(self)  # an old pickle's object was made without it
        for name, value in state.items():
            if name in _CHECKPOINT_FIELDS:
                setattr(self, name, value)

    # -- public API ------------------------------------------------------------------------

    def feed(self, ev: Event) -> None:
        ts = ev.line.ts
        if ts is not None and (self.clock is None or ts > self.clock):
            self.clock = ts
            if (self._done and self._done[0][0] + self.linger <= ts) or (
                self._retry and self._retry[0][0] + self.retry_wait <= ts
            ):
                self._emit_due()
            if self._next_sweep is None or ts >= self._next_sweep:
                self._sweep_stale()
                self._next_sweep = ts + timedelta(hours=1)
        handler = _HANDLERS.get(ev.kind)
        if handler is not None:
            handler(self, ev)
        elif ev.qid is not None and ev.kind != "foreign":
            # "host ... said", "lost connection with", "warning: QID: ...", lines we do
            # not understand: part of the mail's story, shown with its log lines.
            self._tx(ev, create=False)

    def drain(self) -> list[Email | Reject]:
        out, self._out = self._out, []
        return out

    def open_snapshots(self) -> list[Email]:
        """Provisional views of open e-mails that changed since the last call."""
        dirty, self._dirty = self._dirty, {}
        out = []
        for group in dirty.values():
            if group.emitted or not group.dirty:
                continue
            group.dirty = False
            out.append(self._build(group, complete=False))
        return out

    def finish(self) -> list[Email | Reject]:
        """End of input: emit every e-mail, open ones with their provisional statuses."""
        for sess in self._sessions.values():
            self._release_refused(sess)
        groups: list[_Group] = []
        seen: set[int] = set()
        for tx in self._known.values():
            group = self._group.get(tx.serial)
            if group is not None and id(group) not in seen and not group.emitted:
                seen.add(id(group))
                groups.append(group)
        groups.sort(key=lambda g: _tx_order(g.root))
        for group in groups:
            self._emit(group)
        self._done.clear()
        return self.drain()

    @property
    def open_transactions(self) -> int:
        return len(self._open)

    # -- bookkeeping --------------------------------------------------------------------------

    def _tx(self, ev: Event, create: bool = True) -> Transaction | None:
        """The open transaction of ``ev``'s queue ID on its host, created on first sight."""
        key = (ev.line.host, ev.qid or "")
        tx = self._open.get(key)
        if tx is None:
            if not create:
                return None
            self._serial += 1
            tx = Transaction(
                host=key[0],
                queue_id=key[1],
                first_seen=ev.line.ts,
                program=ev.line.instance,
                serial=self._serial,
            )
            self._open[key] = tx
            self._aging.pop(key, None)
            self._aging[key] = ev.line.ts or self.clock or datetime.min.replace(tzinfo=UTC)
            old = self._known.get(key)
            if old is not None:  # the queue ID was reused: the old one is finished
                self._forget_key(key, old)
            self._known[key] = tx
            self._by_qid.setdefault(key[1], []).append(key)
            group = _Group([tx], key=tx.serial)
            self._group[tx.serial] = group
            self._adopt_expected(tx)
        tx.last_seen = ev.line.ts or tx.last_seen
        tx.seqs.append(ev.line.seq)
        group = self._group[tx.serial]
        self._touch(group)
        if group.completed_at is not None:
            group.completed_at = None
        return tx

    def _touch(self, group: _Group) -> None:
        group.dirty = True
        self._dirty[group.key] = group

    def _forget_key(self, key: tuple[str, str], tx: Transaction) -> None:
        keys = self._by_qid.get(key[1])
        if keys is not None:
            with contextlib.suppress(ValueError):
                keys.remove(key)
            if not keys:
                del self._by_qid[key[1]]
        if self._known.get(key) is tx:
            del self._known[key]

    def _find(self, host: str | None, qid: str) -> Transaction | None:
        if host is not None:
            return self._known.get((host, qid))
        keys = self._by_qid.get(qid)
        if keys and len(keys) == 1:
            return self._known.get(keys[0])
        return None

    def _link(self, parent: Transaction, child: Transaction, kind: str) -> None:
        """Record that ``child`` carries on ``parent``'s message, and merge their e-mails."""
        if child is parent:
            return
        if child.parent is None:
            child.parent = parent.queue_id
            child.parent_host = parent.host if parent.host != child.host else None
            child.origin = kind
        a = self._group[parent.serial]
        b = self._group[child.serial]
        a.links[(child.host, child.queue_id)] = (parent.host, parent.queue_id, kind)
        if a is not b:
            self._merge(a, b)

    def _merge(self, a: _Group, b: _Group) -> None:
        if a.emitted or b.emitted:
            return  # too late: one of them already went out; keep them apart
        keep, gone = (a, b) if _tx_order(a.root) <= _tx_order(b.root) else (b, a)
        gone_id = gone.id
        keep.absorbed.append(gone_id)
        keep.absorbed.extend(gone.absorbed)
        keep.links.update(gone.links)
        by_msgid = self._by_msgid
        for tx in gone.txs:
            keep.txs.append(tx)
            self._group[tx.serial] = keep
            # Only the absorbed group's own Message-IDs can point at it: re-point those,
            # never the whole map (that made a long log quadratic).
            mid = tx.message_id
            if mid and by_msgid.get(mid) is gone:
                by_msgid[mid] = keep
        gone.txs = []
        gone.emitted = True  # a husk: never emitted itself
        self._dirty.pop(gone.key, None)
        self._touch(keep)
        keep.completed_at = None
        self._check_complete(keep)

    def _expect_child(
        self, child_qid: str, phost: str, pqid: str, kind: str, chost: str | None
    ) -> None:
        """Remember a hop whose transaction has not shown up (yet): it may come later,
        or never (the next hop is someone else's server), so it expires by time."""
        self._expect.pop(child_qid, None)  # re-insert: the map stays in time order
        self._expect[child_qid] = (phost, pqid, kind, chost, self.clock)

    def _adopt_expected(self, tx: Transaction) -> None:
        exp = self._expect.get(tx.queue_id)
        if exp is None:
            return
        phost, pqid, kind, chost, _ = exp
        if chost is not None and chost != tx.host:
            return
        parent = self._known.get((phost, pqid))
        del self._expect[tx.queue_id]
        if parent is not None and self._group.get(parent.serial) is not None:
            self._link(parent, tx, kind)

    def _close(self, tx: Transaction, state: str) -> None:
        if tx.state == "open":
            tx.state = state
            key = (tx.host, tx.queue_id)
            if self._open.get(key) is tx:
                del self._open[key]
                self._aging.pop(key, None)
        group = self._group.get(tx.serial)
        if group is not None:
            self._touch(group)
            self._check_complete(group)

    def _check_complete(self, group: _Group) -> None:
        if group.emitted or group.completed_at is not None:
            return
        if all(t.state != "open" for t in group.txs):
            group.completed_at = self.clock
            self._done.append((self.clock or datetime.min, group))

    def _emit_due(self) -> None:
        clock = self.clock
        assert clock is not None
        while self._done and self._done[0][0] + self.linger <= clock:
            done_at, group = self._done.popleft()
            if group.emitted or group.completed_at is None or group.completed_at != done_at:
                continue  # reopened or merged since
            if _refused_for_now(group):
                self._retry.append((done_at, group))  # its retry may still join it
                continue
            self._emit(group)
        while self._retry and self._retry[0][0] + self.retry_wait <= clock:
            done_at, group = self._retry.popleft()
            if group.emitted or group.completed_at is None or group.completed_at != done_at:
                continue
            self._emit(group)

    def _emit(self, group: _Group) -> None:
        if group.emitted:
            return
        complete = all(t.state != "open" for t in group.txs)
        self._out.append(self._build(group, complete))
        group.emitted = True
        self._dirty.pop(group.key, None)  # file runs never ask for snapshots
        for tx in group.txs:
            key = (tx.host, tx.queue_id)
            if self._known.get(key) is tx:
                self._forget_key(key, tx)
            if self._open.get(key) is tx:
                del self._open[key]
                self._aging.pop(key, None)
            self._group.pop(tx.serial, None)
            if tx.message_id:
                g = self._by_msgid.get(tx.message_id)
                if g is group:
                    del self._by_msgid[tx.message_id]

    def _sweep_stale(self) -> None:
        """Close transactions silent for longer than any queue lifetime (lost "removed" lines).

        Each structure is kept in the order its entries fall due, so a sweep looks only at
        what it removes (plus, for queue files, those it finds alive and moves to the back
        with a new due time: at most once per ``stale_after`` each).
        """
        clock = self.clock
        if clock is None:
            return
        limit = clock - self.stale_after
        stale: list[Transaction] = []
        alive: list[tuple[tuple[str, str], datetime]] = []
        for key, due in self._aging.items():
            if due >= limit:
                break
            tx = self._open.get(key)
            if tx is None:
                alive.append((key, due))  # gone without us noticing: dropped below
            elif tx.last_seen is not None and tx.last_seen < limit:
                stale.append(tx)
            else:
                alive.append((key, tx.last_seen or clock))
        for key, due in alive:
            del self._aging[key]
            if key in self._open:
                self._aging[key] = due
        for tx in stale:
            self._close(tx, "lost")
        # Sessions whose disconnect never came (smtpd killed, log cut) and hops that never
        # showed up (the next server is not ours) would otherwise grow with the log. Both
        # maps are in the order their entries were made (see _on_connect, _expect_child).
        day = clock - timedelta(days=1)
        old_sessions = []
        for skey, sess in self._sessions.items():
            if sess.since is not None and sess.since >= day:
                break
            old_sessions.append(skey)
        for skey in old_sessions:
            self._release_refused(self._sessions.pop(skey))
        wait = clock - self.retry_wait
        old_refusals = []
        for gkey, refused in self._greylisted.items():
            if refused[-1].at is not None and refused[-1].at >= wait:
                break
            old_refusals.append(gkey)
        for gkey in old_refusals:
            del self._greylisted[gkey]
        hour = clock - timedelta(hours=1)
        old_hops = []
        for child_qid, exp in self._expect.items():
            if exp[4] is not None and exp[4] >= hour:
                break
            old_hops.append(child_qid)
        for child_qid in old_hops:
            del self._expect[child_qid]

    # -- events -------------------------------------------------------------------------------

    def _on_connect(self, ev: Event) -> None:
        line = ev.line
        key = (line.host, line.program, line.pid)
        old = self._sessions.pop(key, None)  # re-insert: the map stays in connect order
        if old is not None:  # its disconnect never came
            self._release_refused(old)
        self._sessions[key] = _Session(
            ev.f.get("client_host", ""), ev.f.get("client_ip", ""), line.ts or self.clock
        )

    def _session_of(self, ev: Event) -> _Session:
        """The smtpd session of ``ev``; one begun without its "connect from" line (the
        log starts mid-session, or a line equal to an earlier one was dropped as a RELP
        duplicate) is begun here, so what it decided still reaches its queue file."""
        line = ev.line
        key = (line.host, line.program, line.pid)
        sess = self._sessions.get(key)
        if sess is None:
            sess = _Session(
                ev.f.get("client_host", ""), ev.f.get("client_ip", ""), line.ts or self.clock
            )
            self._sessions[key] = sess  # at the end: the map stays in start order
        return sess

    def _release_refused(self, sess: _Session) -> None:
        """The session's NOQUEUE refusals no e-mail claimed: records of their own (and,
        refused for now, earlier steps of the retry to come)."""
        self._out.extend(sess.refused)
        for r in sess.refused:
            if (r.code or r.dsn or "").startswith("4"):
                key = _greylist_key(r.host, r.client_ip, r.sender, r.recipient)
                seen = self._greylisted.pop(key, [])  # re-insert: the map stays in time order
                self._greylisted[key] = [*seen[-4:], r]
        sess.refused.clear()

    def _unlink_refused(self, tx: Transaction, keep: Any = None) -> None:
        """Give back the NOQUEUE refusals linked to ``tx`` (those ``keep`` rejects) as
        records of their own: another sender's, or the queue file came to nothing."""
        linked = [r for r in tx.rejects if r.queue_id is None and not (keep and keep(r))]
        if linked:
            gone = {id(r) for r in linked}
            tx.rejects = [r for r in tx.rejects if id(r) not in gone]
            self._out.extend(linked)

    def _check_refused_sender(self, tx: Transaction) -> None:
        """Once ``tx``'s sender is known: a linked refusal of another sender was from an
        earlier MAIL FROM of the session (then RSET), not from this message."""
        sender = (tx.sender or "").lower()
        self._unlink_refused(tx, keep=lambda r: (r.sender or "").lower() == sender)

    def _on_disconnect(self, ev: Event) -> None:
        line = ev.line
        sess = self._sessions.pop((line.host, line.program, line.pid), None)
        if sess is None:
            return
        self._release_refused(sess)
        # Postfix >= 3.0 counts the commands; with no DATA/BDAT accepted no message was,
        # whatever the rejects of the session told about its sender.
        counters = ev.f.get("counters") or {}
        no_data = bool(counters) and all(counters.get(k, (0, 0))[0] == 0 for k in ("data", "bdat"))
        for qid in sess.qids:
            tx = self._open.get((line.host, qid))
            # A queue file that never got past smtpd: the client gave up or every recipient
            # was refused. Postfix logs nothing more about it, so it ends here.
            if tx is None or tx.size is not None:
                continue
            if tx.discarded:
                # DISCARD (access map, header/body check, milter): cleanup never commits
                # the file, so no queue manager line and no "removed" will follow.
                self._close(tx, "removed")
            elif tx.message_id is None and (tx.sender is None or no_data):
                # Refusals from before the queue file existed tell nothing about it.
                self._unlink_refused(tx)
                if tx.rejects:
                    self._close(tx, "rejected")
                else:
                    self._abandon(tx)

    def _abandon(self, tx: Transaction) -> None:
        key = (tx.host, tx.queue_id)
        if self._open.get(key) is tx:
            del self._open[key]
            self._aging.pop(key, None)
        self._forget_key(key, tx)
        group = self._group.pop(tx.serial, None)
        if group is not None and group.txs == [tx]:
            group.emitted = True
        elif group is not None:
            group.txs.remove(tx)
            self._check_complete(group)

    def _on_tls(self, ev: Event) -> None:
        if ev.f.get("direction") != "in":
            return
        line = ev.line
        sess = self._sessions.get((line.host, line.program, line.pid))
        if sess is not None:
            sess.tls = f"{ev.f.get('protocol')} {ev.f.get('cipher')}"

    def _on_client(self, ev: Event) -> None:
        tx = self._tx(ev)
        assert tx is not None
        f = ev.f
        tx.client = f.get("client_host")
        tx.client_ip = f.get("client_ip")
        tx.sasl_username = f.get("sasl_username") or tx.sasl_username
        if tx.origin == "unknown":
            tx.origin = "smtpd"
        line = ev.line
        sess = self._sessions.get((line.host, line.program, line.pid))
        if sess is not None:
            sess.qids.append(tx.queue_id)
            tx.tls = sess.tls
            tx.helo = sess.helo or tx.helo
            for note in sess.pending:
                self._apply_action(tx, note)
            sess.pending.clear()
            # The first accepted recipient opened this queue file: the ones refused just
            # before it from the same client were refused from this message.
            ip = f.get("client_ip")
            for r in sess.refused:
                if not ip or not r.client_ip or r.client_ip == ip:
                    tx.rejects.append(r)
                else:
                    self._out.append(r)
            sess.refused.clear()
        orig = f.get("orig_queue_id")
        if orig:
            tx.orig_client = f.get("orig_client")
            self._link_to_named_parent(tx, orig, "filter")

    def _on_pickup(self, ev: Event) -> None:
        tx = self._tx(ev)
        assert tx is not None
        tx.uid = ev.f.get("uid")
        tx.sender = ev.f.get("sender", tx.sender)
        if tx.origin == "unknown":
            tx.origin = "pickup"
        orig = ev.f.get("orig_id")
        if orig:
            self._link_to_named_parent(tx, orig, "requeue")
            parent = self._known.get((tx.host, orig))
            if parent is not None and parent is not tx and parent.state == "open":
                # postsuper -r moved the old file to the maildrop and pickup made this one
                # of it: the old file ends here, even when postsuper's own line is missing.
                parent.actions.append(
                    {"at": _iso(ev.line.ts), "action": "postsuper requeued", "inferred": True}
                )
                self._close(parent, "requeued")

    def _link_to_named_parent(self, tx: Transaction, parent_qid: str, kind: str) -> None:
        """A child that names its parent (orig_queue_id=, orig_id=) on the same host; the
        parent may be out of view (log started later), which still says how tx began."""
        parent = self._known.get((tx.host, parent_qid))
        if parent is not None:
            self._link(parent, tx, kind)
        else:
            tx.origin = kind
            tx.parent = parent_qid

    def _on_message_id(self, ev: Event) -> None:
        tx = self._tx(ev)
        assert tx is not None
        mid = ev.f.get("message_id") or ""
        tx.message_id = mid
        self._join_by_msgid(tx)

    def _on_subject(self, ev: Event) -> None:
        """The Subject the postfix role's header_checks INFO rule logs (first one wins:
        a message has one Subject header)."""
        tx = self._tx(ev)
        if tx is not None and tx.subject is None:
            tx.subject = ev.f.get("subject") or ""

    def _join_by_msgid(self, tx: Transaction) -> None:
        mid = tx.message_id
        if not mid:
            return
        group = self._group[tx.serial]
        other = self._by_msgid.get(mid)
        if other is None or other.emitted:
            self._by_msgid[mid] = group
            return
        if other is group:
            return
        if len(other.txs) >= MSGID_JOIN_LIMIT:
            self._by_msgid[mid] = group  # start afresh: see MSGID_JOIN_LIMIT
            return
        # The same Message-ID is the same e-mail only when the envelope sender agrees too
        # (some senders reuse one Message-ID for everything).
        senders = {t.sender for t in other.txs if t.sender is not None}
        if tx.sender is None or not senders or tx.sender in senders:
            self._merge(other, group)

    def _on_qmgr_from(self, ev: Event) -> None:
        tx = self._tx(ev)
        assert tx is not None
        f = ev.f
        first = tx.sender is None
        tx.sender = f["sender"]
        tx.size = f["size"]
        tx.nrcpt = f["nrcpt"]
        if first:
            self._check_refused_sender(tx)
        if first and tx.message_id:
            self._join_by_msgid(tx)

    def _on_delivery(self, ev: Event) -> None:
        tx = self._moved_away(ev) or self._tx(ev)
        assert tx is not None
        f = ev.f
        status = f["status"]
        at = Attempt(
            at=ev.line.ts,
            host=tx.host,
            queue_id=tx.queue_id,
            to=f["to"],
            status=status,
            relay=f.get("relay"),
            orig_to=f.get("orig_to"),
            dsn=f.get("dsn"),
            response=f.get("response"),
            delay=f.get("delay"),
            delays=f.get("delays"),
            conn_use=f.get("conn_use"),
            daemon=ev.daemon,
            seq=ev.line.seq,
        )
        for prev in tx.attempts[-4:]:  # RELP may deliver a line twice
            if (prev.at, prev.to, prev.status, prev.response, prev.delays) == (
                at.at,
                at.to,
                at.status,
                at.response,
                at.delays,
            ):
                tx.seqs.pop()
                return
        tx.attempts.append(at)
        if status == "expired":
            tx.expired = True
        child_qid = f.get("forwarded_as")
        if child_qid:
            child = self._known.get((tx.host, child_qid))
            if child is not None:
                self._link(tx, child, "forward")
            else:
                self._expect_child(child_qid, tx.host, tx.queue_id, "forward", tx.host)
            return
        next_qid = f.get("queued_as")  # one QID here; only amavis logs a list
        if isinstance(next_qid, str) and next_qid:
            self._link_next_hop(tx, next_qid, f)

    def _moved_away(self, ev: Event) -> Transaction | None:
        """The file ``postsuper -r`` or ``-d`` took while a delivery agent was still at
        work on it: the agent's result, logged a moment later, is still about that file
        (a new file with a reused queue ID starts with client=, pickup or cleanup lines)."""
        key = (ev.line.host, ev.qid or "")
        if key in self._open:
            return None
        tx = self._known.get(key)
        if tx is None or tx.state not in ("requeued", "deleted"):
            return None
        ts = ev.line.ts
        if ts is not None and tx.last_seen is not None and ts - tx.last_seen > _IN_FLIGHT:
            return None
        tx.seqs.append(ev.line.seq)
        group = self._group.get(tx.serial)
        if group is not None:
            self._touch(group)
        return tx

    def _link_next_hop(self, tx: Transaction, child_qid: str, f: Fields) -> None:
        """Follow ``queued as CHILD`` to the transaction that carries the message on.

        On the same host it is a content filter re-injecting (often on 127.0.0.1, but
        also on the host's own public address); elsewhere it is the next server of ours.
        A short queue ID is only trusted when the Message-ID agrees, since they recur.
        """
        local = f.get("relay_ip") in _LOCAL_IPS or f.get("relay_host") in (tx.host, "localhost")
        child = self._known.get((tx.host, child_qid))
        if child is not None and (local or _same_message(tx, child)):
            self._link(tx, child, "filter")
            return
        if local:
            self._expect_child(child_qid, tx.host, tx.queue_id, "filter", tx.host)
            return
        for key in self._by_qid.get(child_qid, ()):
            other = self._known.get(key)
            trusted = other is not None and (len(child_qid) >= 12 or _same_message(tx, other))
            if other is not None and other.host != tx.host and trusted:
                self._link(tx, other, "relay")
                return
        self._expect_child(child_qid, tx.host, tx.queue_id, "relay", None)

    def _on_expired(self, ev: Event) -> None:
        tx = self._tx(ev)
        assert tx is not None
        tx.expired = True
        tx.sender = ev.f.get("sender", tx.sender)

    def _on_removed(self, ev: Event) -> None:
        tx = self._tx(ev, create=False)
        if tx is None:
            return  # "removed" of a file whose life we never saw: nothing to tell
        self._close(tx, "removed")

    def _on_bounce(self, ev: Event) -> None:
        tx = self._tx(ev)
        assert tx is not None
        new_qid = ev.f["new_qid"]
        tx.notifications.append({"notify": ev.f["notify"], "to": ev.f["to"], "queue_id": new_qid})
        child = self._known.get((tx.host, new_qid))
        if child is not None:
            self._link(tx, child, "bounce")
        else:
            self._expect_child(new_qid, tx.host, tx.queue_id, "bounce", tx.host)

    def _on_postsuper(self, ev: Event) -> None:
        op = ev.f.get("op")
        key = (ev.line.host, ev.qid or "")
        done = self._known.get(key)
        if op == "requeued" and key not in self._open and done and done.state == "requeued":
            # pickup's orig_id= came first (lines of one second, reordered on the way) and
            # ended the file already: this is the line it stood in for.
            for note in done.actions:
                if note.get("action") == "postsuper requeued" and note.pop("inferred", None):
                    note["at"] = _iso(ev.line.ts)
                    break
            done.seqs.append(ev.line.seq)
            group = self._group.get(done.serial)
            if group is not None:
                self._touch(group)
            return
        tx = self._tx(ev, create=op != "removed")
        if tx is None:
            return
        tx.actions.append(
            {"at": ev.line.ts.isoformat() if ev.line.ts else None, "action": f"postsuper {op}"}
        )
        if op == "hold":
            tx.held = True
        elif op == "released":
            tx.held = False
        elif op == "removed":
            self._close(tx, "deleted")
        elif op == "requeued":
            self._close(tx, "requeued")

    def _on_action(self, ev: Event) -> None:
        f = ev.f
        action = f.get("action", "")
        line = ev.line
        if ev.daemon in ("smtpd", "postscreen"):
            sess = self._sessions.get((line.host, line.program, line.pid))
            if sess is not None and f.get("helo"):
                sess.helo = f["helo"]
        reject = None
        if action in _REJECT_RECORD_ACTIONS:
            reject = Reject(
                at=line.ts,
                host=line.host,
                queue_id=ev.qid,
                stage=f.get("stage"),
                action=action,
                code=f.get("code"),
                dsn=f.get("dsn"),
                reason=f.get("reason"),
                client=f.get("client_host"),
                client_ip=f.get("client_ip"),
                sender=f.get("sender"),
                recipient=f.get("recipient"),
                helo=f.get("helo"),
                proto=f.get("proto"),
                daemon=ev.daemon,
                seq=line.seq,
            )
        if ev.qid is None:
            sess = self._session_of(ev) if ev.daemon == "smtpd" else None
            if (
                reject is not None
                and sess is not None
                and ev.daemon == "smtpd"
                and action in _REJECT_ACTIONS
                and f.get("stage") == "RCPT"
                and reject.recipient
            ):
                if sess.refused and (sess.refused[-1].sender or "") != (reject.sender or ""):
                    self._release_refused(sess)  # a new MAIL FROM: the old ones stand alone
                sess.refused.append(reject)
            elif reject is not None:
                self._out.append(reject)
            elif sess is not None and action in _TX_ACTIONS:
                sess.pending.append(self._note(ev))
            return
        tx = self._tx(ev)
        assert tx is not None
        if f.get("helo") and not tx.helo:
            tx.helo = f["helo"]
        if tx.sender is None and f.get("sender") is not None:
            tx.sender = f["sender"]
            self._check_refused_sender(tx)
        if tx.client is None and f.get("client_host"):
            tx.client, tx.client_ip = f.get("client_host"), f.get("client_ip")
        if reject is not None:
            tx.rejects.append(reject)
            if action in _REJECT_ACTIONS and f.get("stage") in _MESSAGE_STAGES:
                self._close(tx, "rejected")
            return
        self._apply_action(tx, self._note(ev))
        if ev.daemon == "cleanup" and action in _DISCARD_ACTIONS and tx.size is None:
            # cleanup_api.c: a discarded message is never committed to the queue, so
            # nothing more is logged about it (for a pickup submission, not even a
            # disconnect would end it).
            self._close(tx, "removed")

    @staticmethod
    def _note(ev: Event) -> dict[str, Any]:
        f = ev.f
        note = {
            k: f.get(k) for k in ("action", "stage", "detail", "reason", "recipient") if f.get(k)
        }
        note["at"] = ev.line.ts.isoformat() if ev.line.ts else None
        return note

    @staticmethod
    def _apply_action(tx: Transaction, note: dict[str, Any]) -> None:
        tx.actions.append(note)
        action = note.get("action")
        if action in ("hold", "milter-hold"):
            tx.held = True
        elif action in ("discard", "milter-discard"):
            tx.discarded = True

    def _on_amavis(self, ev: Event) -> None:
        old = ev.qid
        if not old:
            return
        parent = self._known.get((ev.line.host, old))
        if parent is None:
            return
        parent.actions.append(
            {
                "action": f"amavis {ev.f.get('result')} {ev.f.get('category')}",
                "at": ev.line.ts.isoformat() if ev.line.ts else None,
            }
        )
        parent.seqs.append(ev.line.seq)
        for new in ev.f.get("queued_as") or ():
            child = self._known.get((ev.line.host, new))
            if child is not None:
                self._link(parent, child, "filter")
            else:
                self._expect_child(new, parent.host, parent.queue_id, "filter", parent.host)

    # -- building the e-mail --------------------------------------------------------------------

    def _build(self, group: _Group, complete: bool) -> Email:
        txs = sorted(group.txs, key=_tx_order)
        children: dict[tuple[str, str], list[tuple[Transaction, str]]] = {}
        by_key = {(t.host, t.queue_id): t for t in txs}
        for t in txs:
            link = group.links.get((t.host, t.queue_id))
            if link is not None and (link[0], link[1]) in by_key:
                children.setdefault((link[0], link[1]), []).append((t, link[2]))
        roots = [
            t
            for t in txs
            if (group.links.get((t.host, t.queue_id)) or ("", "", ""))[:2] not in by_key
        ]
        if not roots:
            roots = txs[:1]
        recipients: list[Recipient] = []
        index: _AttemptIndex = {}
        for root in roots:
            if root.origin == "bounce" and len(roots) > 1:
                continue  # a notification without its original in view is still shown
            for addr in _addresses(root):
                recipients.extend(_resolve(root, addr, None, children, complete, 0, index=index))
        recipients = _fold_temporary_refusals(recipients)
        root = roots[0]
        if self._greylisted and root.client_ip:
            self._add_greylisting(root, recipients)
        statuses = {r.status for r in recipients}
        if len(statuses) == 1:
            summary = statuses.pop()
        elif statuses:
            summary = "mixed"
        else:
            summary = _tx_status(root, complete)
        rejects = [r for t in txs for r in t.rejects]
        first = min((t.first_seen for t in txs if t.first_seen), default=None)
        last = max((t.last_seen for t in txs if t.last_seen), default=None)
        message_id = next((t.message_id for t in [root, *txs] if t.message_id), None)
        return Email(
            id=email_id(root.host, root.queue_id, root.first_seen),
            message_id=message_id,
            subject=next((t.subject for t in [root, *txs] if t.subject), None),
            host=root.host,
            sender=next((t.sender for t in [root, *txs] if t.sender is not None), None),
            size=next((t.size for t in [root, *txs] if t.size is not None), None),
            client=root.client,
            client_ip=root.client_ip,
            helo=root.helo,
            sasl_username=root.sasl_username,
            first_seen=first,
            last_seen=last,
            status=summary,
            complete=complete,
            transactions=txs,
            recipients=recipients,
            rejects=rejects,
            merged_ids=list(dict.fromkeys(group.absorbed)),
        )

    def _add_greylisting(self, root: Transaction, recipients: list[Recipient]) -> None:
        """The recipient was refused for now at RCPT by the same server, to the same
        client and sender, before this e-mail came: the client's earlier try."""
        for rcpt in recipients:
            key = _greylist_key(root.host, root.client_ip, root.sender, rcpt.address)
            for r in self._greylisted.get(key, ()):
                if r.at is None or root.first_seen is None or r.at > root.first_seen:
                    continue
                if r.at < root.first_seen - self.retry_wait:
                    continue  # (the hourly sweep has not dropped it yet)
                step = {
                    "at": _iso(r.at),
                    "host": r.host,
                    "queue_id": None,
                    "status": "rejected",
                    "dsn": r.dsn,
                    "response": f"{r.code or ''} {r.dsn or ''} {r.reason or ''}".strip(),
                }
                if step not in rcpt.earlier:
                    rcpt.earlier.append(step)
            rcpt.earlier.sort(key=lambda x: x["at"] or "")

    # dispatch table filled below


def _greylist_key(
    host: str, client_ip: str | None, sender: str | None, recipient: str | None
) -> tuple[str, str, str, str]:
    return (host, client_ip or "", (sender or "").lower(), (recipient or "").lower())


def _refused_for_now(group: _Group) -> bool:
    """Every submission of the e-mail was refused with a 4xx (a greylisting milter or
    policy service): the client will send it again, as part of the same e-mail."""
    for t in group.txs:
        refusals = [r for r in t.rejects if r.action in _REJECT_ACTIONS]
        if t.state != "rejected" or not refusals:
            return False
        if not all((r.code or r.dsn or "").startswith("4") for r in refusals):
            return False
    return bool(group.txs)


def _same_message(a: Transaction, b: Transaction) -> bool:
    return bool(a.message_id) and a.message_id == b.message_id


def _addresses(tx: Transaction) -> list[str]:
    """The recipients a transaction was addressed to, in the order they showed up."""
    seen: dict[str, None] = {}
    for a in tx.attempts:
        seen.setdefault(a.to, None)
    for r in tx.rejects:
        # reject_warning (warn_if_reject) refused nobody: the recipient is delivered,
        # perhaps under a rewritten address, and must not show up twice.
        if r.recipient and r.stage not in _MESSAGE_STAGES and r.action != "reject_warning":
            seen.setdefault(r.recipient, None)
    for note in tx.actions:
        rcpt = note.get("recipient")
        if rcpt and note.get("action") in ("hold", "discard", "milter-hold", "milter-discard"):
            seen.setdefault(rcpt, None)
    if not tx.attempts:
        # A refusal of the whole message (header check, milter, END-OF-MESSAGE) names an
        # accepted recipient, which the refused RCPTs above are not.
        for r in tx.rejects:
            if r.recipient and r.stage in _MESSAGE_STAGES and r.action in _REJECT_ACTIONS:
                seen.setdefault(r.recipient, None)
    if not seen:
        for r in tx.rejects:
            if r.recipient:
                seen.setdefault(r.recipient, None)
    return list(seen)


def _temporary_refusal(r: Recipient) -> bool:
    """A 4xx refusal (milter or policy service "try again later"): the client retries."""
    if r.status != "rejected":
        return False
    return (r.dsn or "").startswith("4") or (r.response or "").startswith("4")


def _fold_temporary_refusals(recipients: list[Recipient]) -> list[Recipient]:
    """One entry per address: a temporary refusal of one submission is not final when
    another submission of the same e-mail (the client's retry) has an outcome for the
    address; it becomes an earlier step of that outcome."""
    by_addr: dict[str, list[Recipient]] = {}
    for r in recipients:
        by_addr.setdefault(r.address.lower(), []).append(r)
    if all(len(v) == 1 for v in by_addr.values()):
        return recipients
    drop: set[int] = set()
    for entries in by_addr.values():
        temporary = [r for r in entries if _temporary_refusal(r)]
        if len(entries) < 2 or not temporary:
            continue
        final = [r for r in entries if not _temporary_refusal(r)] or temporary[-1:]
        keep = max(final, key=lambda r: r.at.timestamp() if r.at else float("-inf"))
        for r in temporary:
            if r is keep:
                continue
            keep.earlier.append(
                {
                    "at": _iso(r.at),
                    "host": r.host,
                    "queue_id": r.queue_id,
                    "status": r.status,
                    "dsn": r.dsn,
                    "response": r.response,
                }
            )
            drop.add(id(r))
        keep.earlier.sort(key=lambda x: x["at"] or "")
    return [r for r in recipients if id(r) not in drop]


def _tx_status(tx: Transaction, complete: bool) -> str:
    """What happened to a recipient of ``tx`` that has no final delivery line."""
    if tx.discarded:
        return "discarded"
    if tx.state == "rejected":
        return "rejected"
    if tx.state == "deleted":
        return "deleted"
    if tx.expired:
        return "expired"
    if tx.state == "requeued":
        return "queued"  # postsuper -r releases from hold too; the new file is out of view
    if tx.held:
        return "held"
    return "queued"


_MAX_DEPTH = 16
# How long after postsuper moved a file a delivery agent may still report on it (an SMTP
# session's timeouts are minutes).
_IN_FLIGHT = timedelta(minutes=10)
# Postfix's own attempt statuses after which the recipient is done with in that file.
_FINAL_ATTEMPTS = frozenset(("sent", "deliverable", "bounced", "undeliverable", "expired"))


def _requeued_as(
    tx: Transaction, kids: list[tuple[Transaction, str]], depth: int
) -> Transaction | None:
    """The file ``postsuper -r`` turned ``tx`` into: a recipient not yet done with in
    ``tx`` (deferred, held, never tried) carries on there, whatever ``tx`` was before."""
    if tx.state != "requeued" or depth >= _MAX_DEPTH:
        return None
    return next((kid for kid, kind in kids if kind == "requeue"), None)


# Per _build: each transaction's attempts by recipient, made on first use, so resolving
# every recipient of a 5,000-recipient e-mail costs its attempts once, not once each.
_AttemptIndex = dict[int, dict[str, list[Attempt]]]


def _attempts_to(tx: Transaction, addr: str, index: _AttemptIndex) -> list[Attempt]:
    by_to = index.get(tx.serial)
    if by_to is None:
        by_to = {}
        for a in tx.attempts:
            by_to.setdefault(a.to, []).append(a)
        index[tx.serial] = by_to
    return by_to.get(addr, [])


def _resolve(  # noqa: PLR0913 - the state one step of the recursion carries down
    tx: Transaction,
    addr: str,
    orig: str | None,
    children: dict[tuple[str, str], list[tuple[Transaction, str]]],
    complete: bool,
    depth: int,
    prior_attempts: int = 0,
    *,
    index: _AttemptIndex | None = None,
) -> list[Recipient]:
    """Final status of ``addr`` in ``tx``, following hops to the end of the chain."""
    if index is None:
        index = {}
    attempts = _attempts_to(tx, addr, index)
    kids = children.get((tx.host, tx.queue_id), [])
    count = prior_attempts + len(attempts)
    if not attempts:
        status = _tx_status(tx, complete)
        rej = next(
            (r for r in tx.rejects if r.recipient == addr or r.stage in _MESSAGE_STAGES), None
        )
        if rej is not None and rej.action in _REJECT_ACTIONS:
            status = "rejected"
        if status not in ("rejected", "discarded"):
            requeued = _requeued_as(tx, kids, depth)
            if requeued is not None:
                return _resolve(
                    requeued, addr, orig, children, complete, depth + 1, count, index=index
                )
        return [
            Recipient(
                address=addr,
                orig_address=orig,
                status=status,
                host=tx.host,
                queue_id=tx.queue_id,
                attempts=count,
                dsn=rej.dsn if rej else None,
                response=(
                    f"{rej.code or ''} {rej.dsn or ''} {rej.reason or ''}".strip() if rej else None
                ),
                at=rej.at if rej else tx.last_seen,
            )
        ]
    last = attempts[-1]
    status = last.status
    orig_address = (
        orig
        if orig is not None
        else (last.orig_to if last.orig_to and last.orig_to != addr else None)
    )
    if status == "sent" and depth < _MAX_DEPTH:
        for kid, kind in kids:
            if kind == "forward" and last.response and kid.queue_id in last.response:
                targets = _addresses(kid) or [addr]
                out: list[Recipient] = []
                for target in targets:
                    out.extend(
                        _resolve(
                            kid,
                            target,
                            orig_address or addr,
                            children,
                            complete,
                            depth + 1,
                            count,
                            index=index,
                        )
                    )
                return out
            if kind in ("filter", "relay") and last.response and kid.queue_id in last.response:
                match = addr
                if not _attempts_to(kid, addr, index):
                    alt = next((a.to for a in kid.attempts if a.orig_to == addr), None)
                    if alt is not None:
                        match = alt
                sub = _resolve(
                    kid, match, orig_address, children, complete, depth + 1, count, index=index
                )
                for r in sub:
                    if r.status == "queued" and not kid.attempts and kind == "relay":
                        r.status = "delivered"  # handed on; the next hop has not logged yet
                return sub
    if status not in _FINAL_ATTEMPTS:
        requeued = _requeued_as(tx, kids, depth)
        if requeued is not None:
            return _resolve(
                requeued, addr, orig_address, children, complete, depth + 1, count, index=index
            )
    final = _final_status(last, tx, complete)
    return [
        Recipient(
            address=addr,
            orig_address=orig_address,
            status=final,
            relay=last.relay,
            dsn=last.dsn,
            response=last.response,
            attempts=count,
            at=last.at,
            host=tx.host,
            queue_id=tx.queue_id,
            delay=last.delay,
        )
    ]


def _final_status(last: Attempt, tx: Transaction, complete: bool) -> str:
    status = last.status
    if status in {"sent", "deliverable"}:
        if last.daemon == "discard" or (last.response and "discarded" in last.response.lower()):
            return "discarded"
        return "delivered"
    if status in {"bounced", "undeliverable"}:
        return "bounced"
    if status == "expired":
        return "expired"
    # deferred: what became of it afterwards?
    if tx.expired:
        return "expired"
    if tx.state == "deleted":
        return "deleted"
    if tx.state == "requeued":
        return "deferred"
    if tx.held:
        return "held"
    return "deferred"


def _handlers() -> dict[str, Any]:
    c = Correlator
    return {
        "connect": c._on_connect,
        "disconnect": c._on_disconnect,
        "tls": c._on_tls,
        "client": c._on_client,
        "pickup": c._on_pickup,
        "message_id": c._on_message_id,
        "subject": c._on_subject,
        "qmgr_from": c._on_qmgr_from,
        "delivery": c._on_delivery,
        "expired": c._on_expired,
        "removed": c._on_removed,
        "bounce": c._on_bounce,
        "postsuper": c._on_postsuper,
        "action": c._on_action,
        "amavis": c._on_amavis,
    }


_HANDLERS = _handlers()
