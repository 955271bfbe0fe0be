"""Own first solution: regret-2 (or cheapest) parallel insertion in numpy.

Per route we keep the earliest service start ``S`` and the latest feasible start ``L`` of every
position (backward time slack), so a time-window/shift check of an insertion is O(1); the best
insertion of every unrouted customer into every route is cached and only the changed route's
column is recomputed after each insertion.
"""

from __future__ import annotations

import numpy as np

from .model import NO_DUE, ArrayModel, route_distance, schedule

INF = float("inf")


class RouteState:
    """Forward/backward time data of one route (customer nodes between the vehicle's start and end)."""

    __slots__ = ("L", "S", "feasible", "load", "nodes", "slack_due")

    def __init__(self, m: ArrayModel, v: int, route: list[int]) -> None:
        t = m.time[int(m.vehicle_profile[v])]
        nodes = np.array([int(m.starts[v]), *route, int(m.ends[v])], dtype=np.int64)
        k = len(nodes)
        # gather once with numpy, then run the (inherently sequential) passes on Python ints:
        # indexing numpy scalars one by one costs several times more than list access
        travel = t[nodes[:-1], nodes[1:]].tolist()
        svc = m.service[nodes].tolist()
        opn = m.tw_open[nodes].tolist()
        cls = m.tw_close[nodes].tolist()
        S = [0] * k
        wait = [0] * k
        S[0] = max(int(m.shift_start[v]), opn[0])
        for i in range(1, k):
            arr = S[i - 1] + svc[i - 1] + travel[i - 1]
            S[i] = arr if arr > opn[i] else opn[i]
            wait[i] = S[i] - arr
        L = [0] * k
        L[-1] = min(int(m.shift_end[v]), cls[-1])
        for i in range(k - 2, -1, -1):
            x = L[i + 1] - travel[i] - svc[i]
            L[i] = cls[i] if cls[i] < x else x
        # how far service at position i may be pushed before any job from i on gets (more) late
        due = m.due[nodes]
        S_a = np.array(S, dtype=np.int64)
        if bool((due < NO_DUE).any()):
            own = np.where(due >= NO_DUE, NO_DUE, np.maximum(due - S_a, 0)).tolist()
            sd = [0] * k
            sd[-1] = own[-1]
            for i in range(k - 2, -1, -1):
                x = wait[i + 1] + sd[i + 1]
                sd[i] = own[i] if own[i] < x else x
            self.slack_due = np.array(sd, dtype=np.int64)
        else:
            self.slack_due = np.full(k, NO_DUE, dtype=np.int64)
        self.nodes = nodes
        self.S, self.L = S_a, np.array(L, dtype=np.int64)
        self.load = int(m.demand[route].sum()) if route else 0
        # every service starts no later than its latest feasible start (a step checks each seed route)
        self.feasible = all(s <= lt for s, lt in zip(S, L, strict=True))


def insertion_costs(
    m: ArrayModel, v: int, st: RouteState, cand: np.ndarray, fixed_first: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Best insertion cost and position (index of the predecessor) of each candidate node into route ``v``."""
    p = int(m.vehicle_profile[v])
    T, D = m.time[p], m.dist[p]
    a, b = st.nodes[:-1], st.nodes[1:]
    u = cand[:, None]
    dep_a = st.S[:-1] + m.service[a]
    su = np.maximum(m.tw_open[u], dep_a[None, :] + T[a[None, :], u])
    ok = su <= m.tw_close[u]
    sb = np.maximum(m.tw_open[b][None, :], su + m.service[u] + T[u, b[None, :]])
    ok &= sb <= st.L[1:][None, :]
    ok &= (m.allowed[cand, v] & (st.load + m.demand[cand] <= m.capacity[v]))[:, None]
    if fixed_first:
        ok[:, 0] = False
    cost = (D[a[None, :], u] + D[u, b[None, :]] - D[a, b][None, :]).astype(float)
    if st.slack_due[0] < NO_DUE or bool((m.due[cand] < NO_DUE).any()):  # cheaper than m.has_due per call
        late_u = np.maximum(su - m.due[u], 0)
        push = np.maximum(sb - st.S[1:][None, :], 0)
        extra = np.maximum(push - st.slack_due[1:][None, :], 0)
        cost += m.late_cost * (late_u + extra)
    cost[~ok] = INF
    pos = np.argmin(cost, axis=1)
    return cost[np.arange(len(cand)), pos], pos


def insertion_costs_many(
    m: ArrayModel, vs: np.ndarray, states: list, cand: np.ndarray, fixed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`insertion_costs` of the candidates into every route of ``vs`` at once: the routes' gaps
    side by side in one array per travel profile, one numpy pass, then the cheapest gap per route.
    Same values and positions (first cheapest gap) as calling :func:`insertion_costs` route by route."""
    cost = np.full((len(cand), len(vs)), INF)
    pos = np.zeros((len(cand), len(vs)), dtype=np.int64)
    prof = m.vehicle_profile[vs]
    u = cand[:, None]
    for p in np.unique(prof).tolist():
        cols = np.flatnonzero(prof == p)
        sts = [states[int(vs[c])] for c in cols]
        T, D = m.time[p], m.dist[p]
        sizes = np.array([len(st.nodes) - 1 for st in sts], dtype=np.int64)  # gaps per route
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        a = np.concatenate([st.nodes[:-1] for st in sts])
        b = np.concatenate([st.nodes[1:] for st in sts])
        s_a = np.concatenate([st.S[:-1] for st in sts])
        s_b = np.concatenate([st.S[1:] for st in sts])
        l_b = np.concatenate([st.L[1:] for st in sts])
        sd_b = np.concatenate([st.slack_due[1:] for st in sts])
        owner = np.repeat(vs[cols], sizes)
        load = np.repeat(np.array([st.load for st in sts], dtype=np.int64), sizes)
        su = np.maximum(m.tw_open[u], (s_a + m.service[a])[None, :] + T[a[None, :], u])
        ok = su <= m.tw_close[u]
        sb = np.maximum(m.tw_open[b][None, :], su + m.service[u] + T[u, b[None, :]])
        ok &= sb <= l_b[None, :]
        ok &= m.allowed[u, owner[None, :]] & (load[None, :] + m.demand[u] <= m.capacity[owner][None, :])
        first_gap = np.zeros(len(a), dtype=bool)
        first_gap[offsets] = fixed[vs[cols]]
        ok[:, first_gap] = False
        c = (D[a[None, :], u] + D[u, b[None, :]] - D[a, b][None, :]).astype(float)
        if bool((sd_b < NO_DUE).any()) or bool((m.due[cand] < NO_DUE).any()):
            late_u = np.maximum(su - m.due[u], 0)
            extra = np.maximum(np.maximum(sb - s_b[None, :], 0) - sd_b[None, :], 0)
            c += m.late_cost * (late_u + extra)
        c[~ok] = INF
        best = np.minimum.reduceat(c, offsets, axis=1)
        local = np.arange(len(a)) - np.repeat(offsets, sizes)
        at = np.where(c == np.repeat(best, sizes, axis=1), local[None, :], len(a))
        cost[:, cols] = best
        pos[:, cols] = np.minimum.reduceat(at, offsets, axis=1)
    return cost, pos


class StateCache:
    """Route states and distances of one search, by vehicle and route: a ruin & recreate step changes a
    few routes, and the others are looked up instead of being timed again. Cleared when it grows large."""

    def __init__(self, m: ArrayModel, limit: int = 20_000) -> None:
        self.m, self.limit = m, limit
        self.states: dict[tuple, RouteState] = {}
        self.costs: dict[tuple, int] = {}
        self.has_due = m.has_due

    def state(self, v: int, route: list[int]) -> RouteState:
        return self._lookup(self.states, (v, *route), lambda: RouteState(self.m, v, route))

    def cost(self, v: int, route: list[int]) -> int:
        """The route's share of the objective: its distance, plus its lateness priced per second."""
        return self._lookup(self.costs, (v, *route), lambda: self._cost(v, route))

    def _cost(self, v: int, route: list[int]) -> int:
        m = self.m
        c = route_distance(m, v, route)
        if self.has_due:
            c += m.late_cost * sum(x[3] for x in schedule(m, v, route))
        return c

    def _lookup(self, store: dict, key: tuple, make):
        hit = store.get(key)
        if hit is None:
            if len(store) >= self.limit:
                store.clear()
            hit = store[key] = make()
        return hit


def build_routes(
    m: ArrayModel,
    seed: list[list[int]] | None = None,
    regret: bool = True,
    compete: np.ndarray | None = None,
    cache: StateCache | None = None,
) -> tuple[list[list[int]], list[int]]:
    """Insert every customer (after the seed routes and forced-first nodes) by regret-2 or cheapest insertion.

    ``compete`` (bool per vehicle, optional) limits the insertions to those vehicles' routes (and to empty
    vehicles): the other seed routes are kept exactly as given, unchecked, so the caller must hand in
    routes it knows are feasible (a ruin & recreate step's untouched routes). Returns ``(routes, unrouted)``;
    ``routes[v]`` lists customer nodes of vehicle ``v``.
    """
    V = m.n_vehicles
    state = cache.state if cache is not None else (lambda v, r: RouteState(m, v, r))
    routes: list[list[int]] = [[] for _ in range(V)]
    fixed = np.zeros(V, dtype=bool)
    placed: set[int] = set()
    known: dict[int, RouteState] = {}  # states of seed routes accepted whole (reused below)
    for v, node in m.first.items():
        routes[v] = [node]
        fixed[v] = True
        placed.add(node)
    if seed:
        for v, r in enumerate(seed[:V]):
            if compete is not None and not compete[v] and r:
                routes[v] = routes[v] + [int(c) for c in r if int(c) not in placed]
                placed.update(routes[v])
                continue
            whole = routes[v] + [int(c) for c in r if int(c) not in placed and m.allowed[int(c), v]]
            stw = state(v, whole)
            if stw.feasible and stw.load <= m.capacity[v] and len(set(whole)) == len(whole):
                routes[v] = whole
                placed.update(whole)
                known[v] = stw
                continue
            for node in r:  # keep the seed order while it stays feasible
                node = int(node)
                if node in placed or not m.allowed[node, v]:
                    continue
                trial = routes[v] + [node]
                stt = RouteState(m, v, trial)
                if stt.feasible and stt.load <= m.capacity[v]:
                    routes[v] = trial
                    placed.add(node)
    cust = np.array([c for c in m.customers.tolist() if c not in placed], dtype=np.int64)
    n = len(cust)
    # states of empty vehicles are built only when the vehicle gets to compete
    states: list[RouteState | None] = [known.get(v) for v in range(V)]
    cost = np.full((n, V), INF)
    pos = np.zeros((n, V), dtype=np.int64)
    if n == 0:
        return routes, []
    # only one empty vehicle per interchangeable group competes (regret would be 0 otherwise)
    group = m.vehicle_group
    active = np.zeros(V, dtype=bool)
    seen: set[int] = set()
    for v in range(V):
        if routes[v]:
            active[v] = compete is None or bool(compete[v])
        elif int(group[v]) not in seen:
            seen.add(int(group[v]))
            active[v] = True
    computed = np.zeros(V, dtype=bool)
    vs = np.flatnonzero(active)
    for v in vs.tolist():
        if states[v] is None:
            states[v] = state(v, routes[v])
    if vs.size:
        cost[:, vs], pos[:, vs] = insertion_costs_many(m, vs, states, cust, fixed)
    computed[vs] = True
    # The two cheapest insertions of every customer over the competing routes (and the route of
    # the cheapest), kept up to date as one column changes at a time: a step costs O(customers)
    # plus a full re-read of the few rows whose cheapest or second route was the changed one,
    # not a partition of the whole customers × vehicles matrix.
    top = _TopTwo(cost, active)
    open_mask = np.ones(n, dtype=bool)
    unrouted: list[int] = []
    while open_mask.any():
        rows = np.flatnonzero(open_mask)
        best = top.b1[rows]
        if regret:
            second = np.where(np.isinf(top.b2[rows]), 1e15, top.b2[rows])
            score = np.where(np.isinf(best), -INF, second - best)
            pick = int(np.argmax(score))
        else:
            pick = int(np.argmin(best))
        if np.isinf(best[pick]):
            unrouted.extend(cust[rows[np.isinf(best)]].tolist())
            open_mask[rows[np.isinf(best)]] = False
            continue
        r = rows[pick]
        v = int(top.col[r])
        node = int(cust[r])
        was_empty = not routes[v]
        routes[v].insert(int(pos[r, v]), node)
        open_mask[r] = False
        cost[r, :] = INF
        states[v] = state(v, routes[v])
        rest = np.flatnonzero(open_mask)
        if rest.size:
            old = cost[rest, v]
            cost[rest, v], pos[rest, v] = insertion_costs(m, v, states[v], cust[rest], fixed[v])
            top.replace(rest, v, old)
        if was_empty:  # the next empty vehicle of this group may now compete
            g = int(group[v])
            for w in range(V):
                if not routes[w] and not active[w] and int(group[w]) == g:
                    active[w] = True
                    if not computed[w] and rest.size:
                        if states[w] is None:
                            states[w] = RouteState(m, w, routes[w])
                        cost[rest, w], pos[rest, w] = insertion_costs(m, w, states[w], cust[rest], fixed[w])
                        computed[w] = True
                        top.merge(rest, w, cost[rest, w])
                    break
    return routes, unrouted


class _TopTwo:
    """Per customer row of ``cost``: the cheapest value over the active columns (``b1``), the
    first column holding it (``col``) and the second-cheapest value (``b2``, INF when none), as
    ``np.partition`` / ``np.argmin`` over the active columns would give them."""

    # Up to this many rows (a ruin & recreate step's removed customers), re-reading every row is fewer
    # numpy calls than working out which rows need it: replace and merge just re-read.
    DIRECT_ROWS = 64

    def __init__(self, cost: np.ndarray, active: np.ndarray) -> None:
        self.cost, self.active = cost, active
        n = cost.shape[0]
        self.direct = n <= self.DIRECT_ROWS
        self.b1 = np.full(n, INF)
        self.b2 = np.full(n, INF)
        self.col = np.zeros(n, dtype=np.int64)
        self.reread(np.arange(n))

    def reread(self, rows: np.ndarray) -> None:
        cols = np.flatnonzero(self.active)
        if rows.size == 0 or cols.size == 0:
            return
        sub = self.cost[np.ix_(rows, cols)]
        at = np.argmin(sub, axis=1)
        self.col[rows] = cols[at]
        self.b1[rows] = sub[np.arange(rows.size), at]
        self.b2[rows] = np.partition(sub, 1, axis=1)[:, 1] if cols.size > 1 else INF

    def merge(self, rows: np.ndarray, v: int, x: np.ndarray) -> None:
        """Column ``v`` joins these rows with values ``x`` (no value of theirs leaves)."""
        if self.direct:
            self.reread(rows)
            return
        b1, col = self.b1[rows], self.col[rows]
        better = (x < b1) | ((x == b1) & (v < col))
        self.b2[rows] = np.where(better, b1, np.minimum(self.b2[rows], x))
        self.b1[rows] = np.where(better, x, b1)
        self.col[rows] = np.where(better, v, col)

    def replace(self, rows: np.ndarray, v: int, old: np.ndarray) -> None:
        """Column ``v`` of these rows changed from ``old`` to what ``cost`` holds now: a row whose
        cheapest or second value may have been ``v``'s is read again, the others merge the new value."""
        if self.direct:
            self.reread(rows)
            return
        again = (self.col[rows] == v) | ((old <= self.b2[rows]) & (old < INF))
        self.reread(rows[again])
        keep = rows[~again]
        if keep.size:
            self.merge(keep, v, self.cost[keep, v])
