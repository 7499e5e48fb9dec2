"""Count and time every request under the template of the route that served it."""

import re
from collections.abc import Callable, Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Scope

from app.middlewares.response_observer import ResponseObserver
from app.utils.metrics import PrometheusMetrics

RoutesProvider = Callable[[], Sequence[BaseRoute]]
# Each place a route is included: the pattern of its full path, and its template.
Places = list[tuple[re.Pattern[str] | None, str]]


class RouteTemplates:
    """The full path template (``/api/v1/users/{user_id}``) of the route in ``scope["route"]``.

    FastAPI leaves the route as its router declared it in the scope, without the
    prefixes of the routers that include it (``/users/{user_id}``); its public
    ``iter_route_contexts`` gives each route's effective, prefixed path. The table is
    built on first use, once every route is registered, and rebuilt when a route is
    missing from it.
    """

    def __init__(self, routes: RoutesProvider) -> None:
        self._routes = routes
        # Routes are not hashable (they define __eq__), so keyed by id, the route kept
        # beside its places to tell it from a later object given the same id.
        self._table: dict[int, tuple[BaseRoute, Places]] = {}

    def template(self, scope: Scope) -> str | None:
        route = scope.get("route")
        if route is None:
            return None
        entry = self._table.get(id(route))
        places = entry[1] if entry is not None and entry[0] is route else self._rebuild(route)
        if len(places) == 1:
            return places[0][1]
        # The same route included under several prefixes: the path tells which.
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        for pattern, template in places:
            if pattern is not None and pattern.match(path):
                return template
        return places[0][1] if places else None

    def _rebuild(self, route: BaseRoute) -> Places:
        table: dict[int, tuple[BaseRoute, Places]] = {}
        for context in iter_route_contexts(self._routes()):
            if isinstance(context.path, str):
                pattern = getattr(context, "path_regex", None)
                original = context.original_route
                table.setdefault(id(original), (original, []))[1].append(
                    (pattern if isinstance(pattern, re.Pattern) else None, context.path)
                )
        if id(route) not in table:
            # A route the tree does not list (inside a mounted app) keeps its own path,
            # still a template; remembered, so it costs one rebuild, not one per request.
            own = getattr(route, "path", None)
            table[id(route)] = (route, [(None, own)] if isinstance(own, str) else [])
        self._table = table
        return table[id(route)][1]


class MetricsMiddleware(ResponseObserver):
    """Installed only with METRICS_ENABLED=true.

    Requests are labelled with their route's template, so series stay few whatever
    the ids in the paths; a request no route matched gets one fixed label. An
    exception that escapes the app counts as the 500 the server error handler sends.
    """

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics, routes: RoutesProvider) -> None:
        super().__init__(app)
        self.metrics = metrics
        self.templates = RouteTemplates(routes)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        self.metrics.observe_request(
            self.templates.template(scope), scope["method"], status, seconds
        )
