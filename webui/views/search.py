"""Searching: the quick box, the extended form, Message-ID lists, exports, rejects and
"My searches" (history and saved searches)."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterable
from typing import Any

from bottle import Bottle, redirect, response

from else_core import accounts, history
from else_core.db.routing import ReadOnly
from else_core.search import (
    EMAIL_FIELDS,
    REJECT_FIELDS,
    Page,
    Query,
    SearchError,
    search_emails,
    search_emails_any,
    search_rejects,
    summary,
)
from webui.context import (
    Ctx,
    csv_response,
    ctx,
    f,
    fmt_time,
    json_response,
    q,
    render,
    request_items,
)
from webui.explain import reject_words
from webui.queries import (
    KIND_WORDS,
    Params,
    QuickPlan,
    build_query,
    describe_search,
    filter_rows,
    message_ids,
    pairs,
    quick_plan,
)

EXPORT_MAX = 10000
EXPORT_HEADER = (
    "time",
    "id",
    "message_id",
    "subject",
    "host",
    "queue_ids",
    "sender",
    "recipient",
    "status",
    "dsn",
    "relay",
    "response",
    "size",
    "client",
    "client_ip",
)


def record_history(c: Ctx, items: list[tuple[str, str]], total: int | None) -> None:
    query = [[k, v] for k, v in items if k != "cursor" and v]
    if not query or c.via_token:
        return
    assert c.user is not None
    # The backend may be down: the search is still served, only not remembered.
    with contextlib.suppress(ReadOnly):
        history.record(c.primary, c.user.id, query, total)


def quick_queries(plan: QuickPlan, base: Query, limit: int) -> list[Query]:
    """One query per alternative of the plan, each with the page's time range and filters
    (several index-friendly queries instead of one OR the planner cannot use indexes for)."""
    return [
        Query(
            since=base.since,
            until=base.until,
            filters=[*base.filters, alt],
            limit=limit,
            count=False,
        )
        for alt in plan.emails
    ]


def quick_search(
    c: Ctx, plan: QuickPlan, base: Query, limit: int = 100, after: str | None = None
) -> Page:
    """One page of the e-mails any reading of the quick text finds, newest first."""
    return search_emails_any(c.db, quick_queries(plan, base, limit), c.scope, limit, after)


def quick_rejects(c: Ctx, plan: QuickPlan, base: Query, limit: int = 50) -> list[dict[str, Any]]:
    """Refusals (NOQUEUE rejects) for the searched text, newest first: a recipient refused
    at RCPT never became an e-mail, so the e-mail search alone would say "nothing"."""
    seen: dict[int, dict[str, Any]] = {}
    for alt in plan.rejects:
        query = Query(since=base.since, until=base.until, filters=[alt], limit=limit, count=False)
        for item in search_rejects(c.db, query, c.scope).items:
            seen.setdefault(item["seq"], item)
    rows = sorted(seen.values(), key=lambda r: r.get("at") or "", reverse=True)
    for r in rows:
        r["words"] = reject_words(r.get("code"), r.get("dsn"), r.get("reason"))
    return rows[:limit]


def row(doc: dict[str, Any]) -> dict[str, Any]:
    """What a result line shows of an e-mail."""
    return {
        "id": doc["id"],
        "first_seen": doc.get("first_seen"),
        "sender": doc.get("sender"),
        "recipients": doc.get("recipients") or [],
        "size": doc.get("size"),
        "host": doc.get("host"),
        "status": doc.get("status"),
        "message_id": doc.get("message_id"),
        "subject": doc.get("subject"),
        "client": doc.get("client"),
        "client_ip": doc.get("client_ip"),
        "queue_ids": [t.get("queue_id") for t in doc.get("transactions") or []],
    }


def export_rows(c: Ctx) -> Iterable[dict[str, Any]]:
    """The documents of the current search, up to :data:`EXPORT_MAX`."""
    query = build_query(Params(request_items()), c.tz, EMAIL_FIELDS)
    plan = quick_plan(q("q")) if q("q").strip() else None
    if plan is not None:
        n, after = 0, None
        while n < EXPORT_MAX:
            page = quick_search(c, plan, query, 1000, after)
            for item in page.items:
                yield item["doc"]
                n += 1
            if not page.next_cursor:
                return
            after = page.next_cursor
        return
    query.limit, query.count, query.after = 1000, False, None
    n = 0
    while True:
        page = search_emails(c.db, query, c.scope)
        for item in page.items:
            yield item["doc"]
            n += 1
        if not page.next_cursor or n >= EXPORT_MAX:
            return
        query.after = page.next_cursor


def install(app: Bottle) -> None:
    @app.get("/")
    def home() -> Any:
        redirect("/search", 303)

    @app.get("/search")
    def search_page() -> str:
        c = ctx()
        items = request_items()
        quick = q("q").strip()
        plan = quick_plan(quick) if quick else None
        page = None
        rows: list[dict[str, Any]] = []
        rejects: list[dict[str, Any]] = []
        note = None
        error = None
        try:
            query = build_query(Params(items), c.tz, EMAIL_FIELDS)
            if plan is not None:
                limit = query.limit if q("limit") else 100  # a longer first look by default
                page = quick_search(c, plan, query, limit, q("cursor") or None)
                rows = page.items
                if not q("cursor"):  # the refusals are listed once, on the first page
                    rejects = quick_rejects(c, plan, query)
            elif any(k not in ("sort", "limit", "tz") for k, _ in items):
                page = search_emails(c.db, query, c.scope)
                rows = page.items
            if (plan is not None or page is not None) and not q("cursor"):
                record_history(
                    c, items, page.total if page and page.total is not None else len(rows)
                )
        except SearchError as exc:
            error = str(exc)
        nothing = plan is not None and not rows and not rejects and error is None
        filters = filter_rows(plan.extended_items() if nothing and plan else items)
        return render(
            "search.html",
            quick=quick,
            kind=plan.kind if plan else None,
            kind_words=KIND_WORDS.get(plan.kind, "") if plan else "",
            described=plan.described() if plan else [],
            rows=[row(r["doc"]) for r in rows],
            rejects=rejects,
            nothing=nothing,
            page=page,
            note=note,
            error=error,
            items=items,
            searched=plan is not None or page is not None,
            sort=q("sort", "-time"),
            filters=filters,
            since=q("since"),
            until=q("until"),
        )

    @app.post("/search/ids")
    def search_ids() -> str:
        c = ctx()
        text = f("message_ids")
        ids = message_ids(text)
        rows: list[dict[str, Any]] = []
        missing: list[str] = []
        if ids:
            page = search_emails(c.db, Query(message_ids=ids, limit=1000), c.scope)
            rows = page.items
            found = {r["doc"].get("message_id") for r in rows}
            missing = [i for i in ids if i not in found]
            record_history(c, [("message_ids", " ".join(ids))], len(rows))
        return render(
            "search.html",
            quick="",
            kind="ids",
            rows=[row(r["doc"]) for r in rows],
            page=None,
            note=None,
            error=None,
            items=[],
            searched=True,
            sort="-time",
            filters=filter_rows([]),
            since="",
            until="",
            ids_text=text,
            missing=missing,
            ids_qs=urllib.parse.urlencode({"message_ids": " ".join(ids)}),
        )

    @app.get("/search/export.csv")
    def export_csv() -> str:
        c = ctx()
        tz = c.tz
        rows = []
        for doc in export_rows(c):
            for r in doc.get("recipients") or [{}]:
                rows.append(
                    (
                        fmt_time(doc.get("first_seen"), tz),
                        doc.get("id"),
                        doc.get("message_id"),
                        doc.get("subject"),
                        doc.get("host"),
                        " ".join(t.get("queue_id", "") for t in doc.get("transactions") or []),
                        doc.get("sender"),
                        r.get("address"),
                        r.get("status"),
                        r.get("dsn"),
                        r.get("relay"),
                        r.get("response"),
                        doc.get("size"),
                        doc.get("client"),
                        doc.get("client_ip"),
                    )
                )
        return csv_response(rows, EXPORT_HEADER, "else-search.csv")

    @app.get("/search/export.json")
    def export_json() -> str:
        c = ctx()
        emails = [summary(doc) for doc in export_rows(c)]
        response.set_header("Content-Disposition", 'attachment; filename="else-search.json"')
        return json_response({"emails": emails})

    @app.get("/rejects")
    def rejects_page() -> str:
        c = ctx()
        error = None
        page = None
        try:
            query = build_query(Params(request_items()), c.tz, REJECT_FIELDS)
            query.sort = "-time"
            page = search_rejects(c.db, query, c.scope)
        except SearchError as exc:
            error = str(exc)
        return render(
            "rejects.html",
            page=page,
            error=error,
            items=request_items(),
            filters=filter_rows(request_items()),
            since=q("since"),
            until=q("until"),
        )

    @app.get("/searches")
    def searches_page() -> str:
        c = ctx()
        assert c.user is not None
        recent = history.recent(c.db, c.user.id)
        saved = history.saved(c.db, c.user.id)
        for r in (*recent, *saved):
            ps = pairs(r["query"])
            r["qs"] = urllib.parse.urlencode(ps)
            r["text"] = describe_search(ps)
        return render("searches.html", history=recent, saved=saved)

    @app.post("/searches/save")
    def save_search() -> Any:
        c = ctx()
        assert c.user is not None
        name = f("name").strip()[:100]
        if not name:
            raise accounts.AccountError("give the search a name")
        query = [
            [k, v]
            for k, v in urllib.parse.parse_qsl(f("query"), keep_blank_values=False)
            if k not in ("cursor", "csrf")
        ][:100]
        history.save(c.primary, c.user.id, name, query)
        c.flash(f"Search saved as {name!r}.")
        redirect("/searches", 303)

    @app.post("/searches/<sid:int>/delete")
    def delete_search(sid: int) -> Any:
        c = ctx()
        assert c.user is not None
        history.delete(c.primary, c.user.id, sid)
        c.flash("Saved search deleted.")
        redirect("/searches", 303)
