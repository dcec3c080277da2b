"""What a turn cost: a price table, per-call costs, and their reconciliation with the turn's own total.

The events carry tokens but no prices, and the main thread's model is not on the events at all. A
:class:`Pricing` table maps model names to USD per million input / output / cache-read / cache-write tokens
(and the model's context window); the model of each call comes from, in order:

1. the ``model`` argument (the main thread's model, e.g. the agent's configured model), for calls on the
   main thread;
2. a sub-agent thread's ``agent_info.model`` (from its ``thread.created``);
3. the table's ``default_model``.

``model_source`` says which one was used (``argument``, ``agent_info``, ``default``), ``None`` when no model
is known.

**Cost of one call** (``cost_source``):

- ``priced``: the call's model is in the table: ``uncached input * input + cache reads * cache_read +
  cache writes * cache_write + output * output`` (per million). ``input_tokens`` includes the cache reads
  and writes (as tfwidget counts them everywhere): uncached input is ``input - cache_read - cache_write``;
- ``allocated``: the call could not be priced, but the turn's ``turn.done`` metrics carry
  ``total_cost_in_usd``: what the priced calls do not explain is shared among the unpriced calls in
  proportion to their tokens (input + output);
- ``unknown``: neither.

:func:`reconcile` compares the per-call costs with ``total_cost_in_usd`` and reports the gap.

The default table (:data:`DEFAULT_PRICES`, dated :data:`DEFAULT_PRICES_DATE`) holds providers' public list
prices for a few common models. Prices change and gateways add their own: set your own with
``Pricing({"my-model": {"input": 1.0, "output": 4.0}})`` or :meth:`Pricing.set`.

>>> p = Pricing(default_model="gpt-5-mini")
>>> round(p.cost("openai-main/gpt-5-mini", input_tokens=10_000, output_tokens=1_000), 6)
0.0045
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .state import TurnState

__all__ = [
    "DEFAULT_PRICES",
    "DEFAULT_PRICES_DATE",
    "CallCost",
    "CostSource",
    "ModelPrice",
    "Pricing",
    "Reconciliation",
    "call_costs",
    "current_model",
    "current_pricing",
    "message_bases",
    "reconcile",
    "set_pricing",
]

#: ``priced`` (from the price table), ``allocated`` (a share of the turn's reported total), ``unknown``.
CostSource = Literal["priced", "allocated", "unknown"]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens for one model, and its context window (tokens).

    ``cache_read`` / ``cache_write`` default to the input price when not given.
    """

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    context_window: int | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cache_read", "cache_write"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
                raise ValueError(
                    f"{name} price must be a non-negative number (USD per million tokens), not {v!r}"
                )
        cw = self.context_window
        if cw is not None and (not isinstance(cw, int) or isinstance(cw, bool) or cw <= 0):
            raise ValueError(f"context_window must be a positive int (tokens), not {cw!r}")

    def cost(
        self,
        input_tokens: int | None = 0,
        output_tokens: int | None = 0,
        cache_read_tokens: int | None = 0,
        cache_write_tokens: int | None = 0,
    ) -> float:
        """The USD cost of one call's tokens (``input_tokens`` includes cache reads and writes)."""
        inp, out = input_tokens or 0, output_tokens or 0
        cr, cw = cache_read_tokens or 0, cache_write_tokens or 0
        uncached = max(0, inp - cr - cw)
        cr_price = self.input if self.cache_read is None else self.cache_read
        cw_price = self.input if self.cache_write is None else self.cache_write
        return (uncached * self.input + cr * cr_price + cw * cw_price + out * self.output) / 1e6


#: When :data:`DEFAULT_PRICES` were taken from the providers' public price lists.
DEFAULT_PRICES_DATE = "2025-08-15"

#: A small default price table: USD per million tokens (input, output, cache read, cache write) and the
#: context window, from the providers' public list prices on :data:`DEFAULT_PRICES_DATE`.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-5": ModelPrice(1.25, 10.0, 0.125, None, 400_000),
    "gpt-5-mini": ModelPrice(0.25, 2.0, 0.025, None, 400_000),
    "gpt-5-nano": ModelPrice(0.05, 0.40, 0.005, None, 400_000),
    "gpt-4.1": ModelPrice(2.0, 8.0, 0.50, None, 1_047_576),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60, 0.10, None, 1_047_576),
    "gpt-4o": ModelPrice(2.50, 10.0, 1.25, None, 128_000),
    "gpt-4o-mini": ModelPrice(0.15, 0.60, 0.075, None, 128_000),
    "claude-opus-4-1": ModelPrice(15.0, 75.0, 1.50, 18.75, 200_000),
    "claude-sonnet-4": ModelPrice(3.0, 15.0, 0.30, 3.75, 200_000),
    "claude-3-5-haiku": ModelPrice(0.80, 4.0, 0.08, 1.0, 200_000),
}


def _as_price(model: str, value: ModelPrice | Mapping[str, Any]) -> ModelPrice:
    if isinstance(value, ModelPrice):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"input", "output", "cache_read", "cache_write", "context_window"}
        if unknown:
            raise ValueError(f"price of {model!r}: unknown keys {sorted(unknown)}")
        if "input" not in value or "output" not in value:
            raise ValueError(f"price of {model!r} needs 'input' and 'output' (USD per million tokens)")
        return ModelPrice(**value)
    raise TypeError(f"price of {model!r} must be a ModelPrice or a dict, not {type(value).__name__}")


class Pricing:
    """A price table: model name -> :class:`ModelPrice` (USD per million tokens, context window).

    Args:
        prices: ``{model: ModelPrice or {"input", "output", "cache_read"?, "cache_write"?,
            "context_window"?}}``, added over (or instead of) the defaults.
        default_model: the model of calls whose model is not known otherwise (see the module docstring).
        defaults: start from :data:`DEFAULT_PRICES` (``True``) or from an empty table.

    A model name matches an entry exactly, else by its last ``/`` part (a gateway's
    ``"openai-main/gpt-5-mini"`` matches ``"gpt-5-mini"``), else by the longest entry that starts it
    (``"gpt-5-mini-2025-08-07"`` matches ``"gpt-5-mini"``).
    """

    def __init__(
        self,
        prices: Mapping[str, ModelPrice | Mapping[str, Any]] | None = None,
        *,
        default_model: str | None = None,
        defaults: bool = True,
    ) -> None:
        self.prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES) if defaults else {}
        for model, value in (prices or {}).items():
            self.set(model, value)
        self.default_model = default_model
        self.date: str | None = DEFAULT_PRICES_DATE if defaults else None

    def set(self, model: str, price: ModelPrice | Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Set (or, with keyword fields only, update) the price of ``model``."""
        if not isinstance(model, str) or not model:
            raise ValueError("the model name must be a non-empty string")
        if price is None:
            old = self.prices.get(model)
            if old is None:
                price = fields
            else:
                self.prices[model] = replace(old, **fields)
                return
        elif fields:
            raise TypeError("give a price or keyword fields, not both")
        self.prices[model] = _as_price(model, price)

    def price(self, model: str | None) -> ModelPrice | None:
        """The price entry of ``model`` (matched as the class docstring says), ``None`` when unknown."""
        if not model:
            return None
        p = self.prices.get(model)
        if p is not None:
            return p
        short = model.rsplit("/", 1)[-1]
        p = self.prices.get(short)
        if p is not None:
            return p
        best = max((k for k in self.prices if short.startswith(k)), key=len, default=None)
        return self.prices[best] if best is not None else None

    def cost(self, model: str | None, **tokens: int | None) -> float | None:
        """The USD cost of one call of ``model`` (``None`` when the model has no price here)."""
        p = self.price(model)
        return None if p is None else p.cost(**tokens)

    def context_window(self, model: str | None) -> int | None:
        p = self.price(model)
        return None if p is None else p.context_window

    def __repr__(self) -> str:
        return f"<Pricing models={len(self.prices)} default_model={self.default_model!r} date={self.date!r}>"


@dataclass(frozen=True, slots=True)
class CallCost:
    """The cost of one model call (see the module docstring for ``model_source`` and ``cost_source``)."""

    message_id: str
    model: str | None
    model_source: str | None
    cost_usd: float | None
    cost_source: CostSource
    context_window: int | None = None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Per-call costs against the turn's reported ``total_cost_in_usd``.

    Attributes:
        reported_usd: ``turn.done`` ``metrics.total_cost_in_usd`` (``None`` when not reported).
        priced_usd: the sum over calls priced from the table.
        allocated_usd: the sum allocated to unpriced calls.
        gap_usd: ``reported - (priced + allocated)`` (``None`` without a reported total); positive means
            the gateway charged more than the table explains.
        calls: the per-call costs.
    """

    reported_usd: float | None
    priced_usd: float
    allocated_usd: float
    gap_usd: float | None
    calls: dict[str, CallCost] = field(default_factory=dict)

    @property
    def total_usd(self) -> float | None:
        """The best total: the reported one, else the per-call sum (``None`` when nothing is known)."""
        if self.reported_usd is not None:
            return self.reported_usd
        if any(c.cost_usd is not None for c in self.calls.values()):
            return self.priced_usd + self.allocated_usd
        return None


# [Pricing or None, main-thread model or None]
_CURRENT: tuple[Pricing | None, str | None] = (None, None)


def set_pricing(pricing: Pricing | None = None, *, model: str | None = None) -> None:
    """Set the price table (and the main thread's model) used where none is passed: the ``usage_df`` and
    ``spans_df`` of every state and view, the view's costs and :func:`~tfwidget.analysis.plot_usage`.

    ``set_pricing()`` goes back to the default table and no model.
    """
    if pricing is not None and not isinstance(pricing, Pricing):
        raise TypeError(f"pricing must be a tfwidget.Pricing, not {type(pricing).__name__}")
    if model is not None and not isinstance(model, str):
        raise TypeError(f"model must be a model name (str), not {type(model).__name__}")
    global _CURRENT
    _CURRENT = (pricing, model)


def current_pricing() -> Pricing:
    """The table set with :func:`set_pricing`, else a default :class:`Pricing`."""
    p = _CURRENT[0]
    return p if p is not None else _DEFAULT_TABLE


def current_model() -> str | None:
    """The main thread's model set with :func:`set_pricing` (``None`` when not set)."""
    return _CURRENT[1]


def _default_pricing() -> Pricing:
    return current_pricing()


def message_bases(state: TurnState) -> dict[str, Any]:
    """Each message's base event by id, as the fold keeps it (read-only): its ``thread_id``, ``usage`` and
    ``finish_reason`` are current (the merge sets them on the base), its text fields are not. Cheap: no
    merged copy is built (``state.merged_messages()`` would copy each streaming message)."""
    return {mid: m.base for mid, m in state._msgs.items()}


def call_costs(
    state: TurnState, *, pricing: Pricing | None = None, model: str | None = None
) -> dict[str, CallCost]:
    """Cost of every model call that reported usage, keyed by message id (see the module docstring)."""
    return reconcile(state, pricing=pricing, model=model).calls


def reconcile(
    state: TurnState, *, pricing: Pricing | None = None, model: str | None = None
) -> Reconciliation:
    """Per-call costs of a turn reconciled with its reported ``total_cost_in_usd`` (see the module docstring)."""
    if pricing is None:
        pricing = _default_pricing()
    elif not isinstance(pricing, Pricing):
        raise TypeError(f"pricing must be a tfwidget.Pricing, not {type(pricing).__name__}")
    if model is not None and not isinstance(model, str):
        raise TypeError(f"model must be a model name (str), not {type(model).__name__}")
    if model is None:
        model = current_model()
    threads = state.threads
    priced: dict[str, CallCost] = {}
    unpriced: list[tuple[str, str | None, str | None, int | None, int]] = []
    for m in message_bases(state).values():
        u = m.usage
        tid = m.thread_id or "main"
        th = threads.get(tid)
        mdl, src = None, None
        if tid == "main" and model is not None:
            mdl, src = model, "argument"
        elif th is not None and th.model:
            mdl, src = th.model, "agent_info"
        elif model is not None and (th is None or th.parent_tool_call_id is None):
            mdl, src = model, "argument"
        elif pricing.default_model:
            mdl, src = pricing.default_model, "default"
        window = pricing.context_window(mdl)
        if u is None:
            continue
        cost = pricing.cost(
            mdl,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens,
        )
        if cost is not None:
            priced[m.id] = CallCost(m.id, mdl, src, cost, "priced", window)
        else:
            unpriced.append((m.id, mdl, src, window, (u.input_tokens or 0) + (u.output_tokens or 0)))
    mt = state.metrics
    reported = mt.total_cost_in_usd if mt is not None else None
    priced_sum = sum(c.cost_usd or 0.0 for c in priced.values())
    calls = dict(priced)
    allocated_sum = 0.0
    if reported is not None and unpriced:
        remainder = max(0.0, reported - priced_sum)
        weight = sum(w for *_rest, w in unpriced)
        for mid, mdl, src, window, w in unpriced:
            share = remainder * (w / weight) if weight else remainder / len(unpriced)
            calls[mid] = CallCost(mid, mdl, src, share, "allocated", window)
            allocated_sum += share
    else:
        for mid, mdl, src, window, _w in unpriced:
            calls[mid] = CallCost(mid, mdl, src, None, "unknown", window)
    # keep the fold's message order
    order = {mid: i for i, mid in enumerate(state.message_ids())}
    calls = dict(sorted(calls.items(), key=lambda kv: order.get(kv[0], 0)))
    gap = None if reported is None else reported - priced_sum - allocated_sum
    return Reconciliation(reported, priced_sum, allocated_sum, gap, calls)


_DEFAULT_TABLE = Pricing()
