"""The dashboard's routes: pages (GET) and actions (POST), nothing else.

Pages gather their data in :mod:`syncd.web.views`, actions act through
:mod:`syncd.web.actions`; :mod:`syncd.web.security` guards every request. The
store is used by one request at a time (a lock): one user, and no two rule
evaluations racing. An action answers an htmx request with the changed piece of
the page (a flag's row keeps its place and size), a plain form post with a
redirect to the page it came from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from syncd.core.errors import SyncdError, UserError
from syncd.web import actions, svg, views
from syncd.web.context import WebContext
from syncd.web.security import Guard, Sessions

HERE = Path(__file__).parent
STATIC = {
    "htmx.min.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
DIGEST_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self';"
    " base-uri 'none'; form-action 'none'"
)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["choices"] = views.CHOICES
    return env


def _safe_next(value: str | None, default: str = "/") -> str:
    """A local path to return to (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


class Dashboard:
    """The app's state: the home's context, the sessions and the templates."""

    def __init__(self, wc: WebContext, sessions: Sessions):
        self.wc = wc
        self.sessions = sessions
        self.env = _env()
        self.lock = threading.Lock()

    def page(self, request: Request, template: str, **values: Any) -> HTMLResponse:
        """A full page from ``template``, with the session's note and CSRF token."""
        sid = request.scope["state"]["sid"]
        note = self.sessions.take_note(sid)
        html = self.env.get_template(template).render(
            csrf=request.scope["state"]["csrf"],
            path=request.url.path,
            note=note,
            **values,
        )
        return HTMLResponse(html)

    def fragment(self, request: Request, template: str, **values: Any) -> HTMLResponse:
        """A piece of a page (an htmx answer)."""
        html = self.env.get_template(template).render(
            csrf=request.scope["state"]["csrf"], path=request.url.path, note=None, **values
        )
        return HTMLResponse(html)

    def locked(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` holding the store lock (in a worker thread)."""
        with self.lock:
            return work()

    async def run(self, work: Callable[[], Any]) -> Any:
        """``work`` in a worker thread, one at a time."""
        return await run_in_threadpool(self.locked, work)

    async def view(self, view: Callable[..., Any], *args: Any) -> Any:
        """``view(wc, now, *args)`` in the worker thread, once the flags are brought up to now."""

        def work() -> Any:
            now = self.wc.now()
            self.wc.refresh(now)
            return view(self.wc, now, *args)

        return await self.run(work)


def create_app(wc: WebContext, sessions: Sessions, port: int) -> Guard:
    """The dashboard as an ASGI app, guarded for ``127.0.0.1:port`` / ``localhost:port``."""
    d = Dashboard(wc, sessions)

    async def today(request: Request) -> Response:
        data = await d.view(views.today, request.query_params.get("all") == "1")
        return d.page(request, "today.html", page="today", **data)

    async def people(request: Request) -> Response:
        query = views.PeopleQuery.from_params(request.query_params)
        return d.page(request, "people.html", page="people", **await d.view(views.people, query))

    async def person(request: Request) -> Response:
        pid = request.path_params["pid"]

        def work() -> dict | None:
            now = wc.now()
            wc.refresh(now)
            try:
                ref = actions.person_id(wc, str(pid))
            except UserError:
                return None
            return views.person(wc, now, ref, request.query_params.get("all") == "1")

        data = await d.run(work)
        if data is None:
            response = d.page(request, "missing.html", page="people", pid=pid)
            response.status_code = 404
            return response
        return d.page(request, "person.html", page="people", p=data)

    async def network(request: Request) -> Response:
        data = await d.view(views.network)
        nodes, edges = svg.layout(data["inner"], data["links"])
        return d.page(
            request,
            "network.html",
            page="network",
            data=data,
            nodes=nodes,
            edges=edges,
        )

    async def digest(request: Request) -> Response:
        return d.page(request, "digest.html", page="digest")

    async def digest_email(request: Request) -> Response:
        html = await d.view(views.digest_html)
        return HTMLResponse(
            html,
            headers={"content-security-policy": DIGEST_CSP, "x-frame-options": "SAMEORIGIN"},
        )

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(HERE / "static" / name, media_type=STATIC[name])

    async def flag_action(request: Request) -> Response:
        action = request.path_params["action"]
        form = await request.form()
        flag_id = str(form.get("flag", ""))
        days = str(form.get("days", ""))

        def work():
            now = wc.now()
            if action == "snooze":
                flag, text = actions.snooze_flag(wc, flag_id, days, now)
            else:
                flag, text = actions.close_flag(wc, flag_id, action, now)
            return views.one_flag(wc, flag, now), text

        return await _act(request, form, work, fragment="_flag_result.html")

    async def person_action(request: Request) -> Response:
        pid = request.path_params["pid"]
        action = request.path_params["action"]
        form = await request.form()

        def work():
            now = wc.now()
            person = actions.person_id(wc, str(pid))
            if action == "log":
                text = actions.log(
                    wc, person, str(form.get("kind", "")), str(form.get("note", "")), now
                )
            elif action == "kind":
                text = actions.correct_kind(wc, person, str(form.get("kind", "")))
            elif action == "ignore":
                text = actions.ignore_person(wc, person)
            elif action == "tier":
                text = actions.pin(wc, person, str(form.get("tier", "")))
            elif action == "merge":
                text = actions.merge(wc, person, str(form.get("other", "")))
            elif action == "split":
                made, text = actions.split_off(wc, person, str(form.get("address", "")))
                wc.refresh(now)
                return f"/people/{made}", text
            elif action == "tag":
                text = actions.tag(wc, person, str(form.get("tags", "")))
            elif action == "untag":
                text = actions.untag(wc, person, str(form.get("tag", "")))
            else:
                raise UserError(f"unknown action {action!r}")
            wc.refresh(now)
            return None, text

        return await _act(request, form, work)

    async def _act(request: Request, form, work, fragment: str | None = None) -> Response:
        sid = request.scope["state"]["sid"]
        back = _safe_next(str(form.get("next", "")))
        htmx = request.headers.get("hx-request") == "true" and fragment is not None
        try:
            row, text = await d.run(work)
        except UserError as exc:
            if htmx:
                return d.fragment(request, "_error.html", text=str(exc))
            d.sessions.note(sid, str(exc), error=True)
            return RedirectResponse(back, status_code=303)
        if htmx and fragment is not None:
            return d.fragment(request, fragment, f=row, text=text)
        d.sessions.note(sid, text)
        if isinstance(row, str):  # the action made a page of its own (a split)
            back = row
        return RedirectResponse(back, status_code=303)

    routes = [
        Route("/", today),
        Route("/people", people),
        Route("/people/{pid:int}", person),
        Route("/network", network),
        Route("/digest", digest),
        Route("/digest/email", digest_email),
        Route("/static/{name}", static),
        Route("/flags/{action:str}", flag_action, methods=["POST"]),
        Route("/people/{pid:int}/{action:str}", person_action, methods=["POST"]),
    ]

    async def refused(request: Request, exc: Exception) -> Response:
        # A problem the user can fix (an invalid config.toml, a locked store): said in
        # plain words on a page, as the CLI says it in one line.
        response = d.page(request, "problem.html", page="", text=str(exc))
        response.status_code = 409 if isinstance(exc, UserError) else 500
        return response

    app = Starlette(routes=routes, exception_handlers={SyncdError: refused})
    return Guard(app, sessions, port)
