"""The Alerts page: open, acknowledged and resolved alerts with their history, the
acknowledge button, and (administrators) the rules; plus the banner every page shows
while alerts are open (:func:`banner`, called by :func:`webui.context.render`).

Alerts are for administrators, like the Servers page they point to: they name servers,
remote domains and relays of every tenant, which a scoped user must not see. Every change
is a CSRF-checked POST and an audit row; the acknowledgement names who made it.
"""

from __future__ import annotations

from typing import Any

from bottle import Bottle, HTTPError, redirect

from else_core import accounts
from else_core import servers as servers_mod
from else_core.alerts import store
from else_core.alerts.rules import KINDS, Rule, params_text, parse_params, validate
from else_core.errors import ElseError
from webui.context import ctx, f, q, render, settings_of
from webui.views.admin import me


def _number(name: str, cast: type[Any], optional: bool = False) -> Any:
    text = f(name).strip()
    if not text and optional:
        return None
    try:
        return cast(text)
    except ValueError:
        raise ElseError(f"{name.replace('_', ' ')} must be a number, not {text!r}") from None


def _scope(text: str) -> tuple[str, str | None]:
    kind, _, value = text.partition(":")
    if kind == "all" or not text:
        return "all", None
    return kind, value


def rule_from_form() -> Rule:
    """The rule the admin's form describes (validated), or an ElseError naming the field."""
    scope_kind, scope_value = _scope(f("scope"))
    return validate(
        Rule(
            name=f("name").strip(),
            kind=f("kind"),
            threshold=_number("threshold", float),
            resolve_threshold=_number("resolve_threshold", float, optional=True),
            window_minutes=_number("window_minutes", int),
            clear_after=_number("clear_after", int),
            repeat_minutes=_number("repeat_minutes", int),
            scope_kind=scope_kind,
            scope_value=scope_value,
            params=parse_params(f("params").replace(";", " ").split()),
            enabled=f("enabled") == "on",
        )
    )


def install(app: Bottle) -> None:
    settings = settings_of(app)

    def scopes() -> list[tuple[str, str]]:
        c = ctx()
        out = [("all", "all servers")]
        names = servers_mod.known_names(c.db, settings.config)
        out += [(f"server:{s}", f"server {s}") for s in names]
        out += [(f"group:{g.name}", f"group {g.name}") for g in accounts.list_groups(c.db)]
        return out

    @app.get("/alerts", auth="admin")
    def alerts_page() -> str:
        c = ctx()
        show = q("show")
        states = store.STATES if show == "all" else ("open", "acknowledged")
        return render(
            "alerts.html",
            alerts=store.list_alerts(c.db, states, 300),
            show_all=show == "all",
            rules=store.rule_status(c.db),
            kinds=KINDS,
            scopes=scopes(),
            params_text=params_text,
        )

    @app.get("/alerts/<alert_id:int>", auth="admin")
    def alert_page(alert_id: int) -> str:
        try:
            alert = store.alert_detail(ctx().db, alert_id)
        except ElseError:
            raise HTTPError(404, "no such alert") from None
        return render("alert.html", a=alert)

    @app.post("/alerts/<alert_id:int>/ack", auth="admin")
    def alert_ack(alert_id: int) -> None:
        c = ctx()
        try:
            store.acknowledge(c.primary, alert_id, me())
            c.flash(f"Alert {alert_id} acknowledged.")
        except ElseError as exc:
            c.flash(str(exc), "error")
        back = f("back")
        redirect(back if back in ("/alerts", f"/alerts/{alert_id}") else "/alerts", 303)

    @app.post("/alerts/rules", auth="admin")
    def rule_add() -> None:
        c = ctx()
        try:
            rule = store.add_rule(c.primary, rule_from_form(), me())
            c.flash(f"Rule {rule.name} added.")
        except ElseError as exc:
            c.flash(f"Rule not added: {exc}", "error")
        redirect("/alerts#rules", 303)

    @app.post("/alerts/rules/<name>/set", auth="admin")
    def rule_set(name: str) -> None:
        c = ctx()
        try:
            rule = rule_from_form()
            changes = {k: getattr(rule, k) for k in store.EDITABLE}
            store.set_rule(c.primary, name, changes, me())
            c.flash(f"Rule {name} changed.")
        except ElseError as exc:
            c.flash(f"Rule {name} not changed: {exc}", "error")
        redirect("/alerts#rules", 303)

    @app.post("/alerts/rules/<name>/delete", auth="admin")
    def rule_delete(name: str) -> None:
        c = ctx()
        try:
            store.delete_rule(c.primary, name, me())
            c.flash(f"Rule {name} deleted.")
        except ElseError as exc:
            c.flash(str(exc), "error")
        redirect("/alerts#rules", 303)
