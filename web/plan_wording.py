"""A re-optimisation in words: its net effect as a sentence ("Saves 12.4 km and 35 minutes of
lateness", "Adds 3 km but avoids 2 late orders", "No better plan found"), and why a ticked
move was refused, in the user's language. Nothing here decides anything."""

from __future__ import annotations

from typing import Any

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from dispatch.planning.reoptimise import Refusal

# Less than this is not worth a word (a search's noise, not a change a dispatcher would notice).
KM_SHOWN = 0.1


def _km(value: float) -> str:
    return format_decimal(round(abs(value), 1), format="#,##0.0")


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s and %(last)s", first=_(", ").join(parts[:-1]), last=parts[-1])


def _clauses(parts: list[str]) -> str:
    """Clauses of a sentence: "adds 3.0 km, makes 2 more orders late"."""
    text = parts[0]
    for part in parts[1:]:
        text = _("%(clause)s, %(next)s", clause=text, next=part)
    return text


def effect(diff: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What the plan gains and what it costs, each as short phrases ("saves 12.4 km and 35
    minutes of lateness", "avoids 2 late orders"; "adds 3.0 km")."""
    km = float(diff.get("km_saved", 0))
    late = int(diff.get("lateness_avoided_min", 0))
    late_orders = int(diff.get("late_orders_avoided", 0))
    served = len(diff.get("newly_served", []))
    dropped = len(diff.get("newly_unserved", []))
    saved = [_("%(km)s km", km=_km(km))] if km >= KM_SHOWN else []
    added = [_("%(km)s km", km=_km(km))] if km <= -KM_SHOWN else []
    if late > 0:
        saved.append(ngettext("%(num)s minute of lateness", "%(num)s minutes of lateness", late))
    if late < 0:
        added.append(ngettext("%(num)s minute of lateness", "%(num)s minutes of lateness", -late))
    gains = [_("saves %(what)s", what=_join(saved))] if saved else []
    costs = [_("adds %(what)s", what=_join(added))] if added else []
    if late_orders > 0:
        gains.append(ngettext("avoids %(num)s late order", "avoids %(num)s late orders", late_orders))
    if late_orders < 0:
        costs.append(ngettext("makes %(num)s more order late", "makes %(num)s more orders late", -late_orders))
    margin = int(diff.get("margin_orders_gained", 0))
    if margin > 0:
        gains.append(
            ngettext(
                "leaves %(num)s more order time to spare before it is due",
                "leaves %(num)s more orders time to spare before they are due",
                margin,
            )
        )
    if served:
        gains.append(ngettext("plans %(num)s more order", "plans %(num)s more orders", served))
    if dropped:
        costs.append(ngettext("leaves %(num)s order unplanned", "leaves %(num)s orders unplanned", dropped))
    return gains, costs


def summary(payload: dict[str, Any]) -> str:
    """The proposal's net effect in one sentence."""
    diff = payload.get("diff", {})
    if not payload.get("improves", True):
        return _("No better plan found: today's plan stays as it is.")
    gains, costs = effect(diff)
    text = _clauses(gains) if gains else _("puts visits in a better order")
    if costs:
        text = _("%(costs)s but %(gains)s", costs=_clauses(costs), gains=text)
    text = text[:1].upper() + text[1:]
    moves = len(diff.get("moves", []))
    reordered = len(diff.get("resequenced", []))
    details = []
    if moves:
        details.append(ngettext("%(num)s order changes technician", "%(num)s orders change technician", moves))
    if reordered:
        details.append(
            ngettext(
                "%(num)s technician's visits in a new order", "%(num)s technicians' visits in a new order", reordered
            )
        )
    if details:
        text = _("%(effect)s (%(details)s)", effect=text, details=_("; ").join(details))
    return text + _(".")


def refusal(r: Refusal) -> str:
    """Why a ticked move was refused, in the user's language."""
    return _(r.message, **r.params)
