"""The fault workload's conductor: kill at the configured time, wait for recovery, end the run.

Runs inside the benchmark's event loop next to the users (the concurrent closed loop) and the
observer. It decides when the run ends: ``after_recovery_s`` after the last killed engine serves
through the router again, or at once when an engine has not recovered ``recovery_timeout_s``
after its kill.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .analysis import Goals, serving_again
from .inject import Injector
from .observe import Observer
from ..settings import Settings


@dataclass(frozen=True)
class FaultPlan:
    engine: str
    kill_at_s: float  # after the warm-up
    second_engine: str | None = None
    second_after_s: float = 0.0  # after the first engine serves again
    after_recovery_s: float = 10.0
    recovery_timeout_s: float = 300.0
    goals: Goals = Goals()
    model: str | None = None  # the isolation variant: every engine of this model killed at once
    together: tuple[str, ...] = ()  # the model's other engines, killed right after ``engine``

    @property
    def outage(self) -> tuple[str, ...]:
        """The engines killed at the first kill time."""
        return (self.engine, *self.together)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "model": self.model, "engines": list(self.outage),
                "kill_at_s": self.kill_at_s, "second_engine": self.second_engine,
                "second_after_s": self.second_after_s if self.second_engine else None,
                "after_recovery_s": self.after_recovery_s, "recovery_timeout_s": self.recovery_timeout_s,
                "max_inflight_end_s": self.goals.max_inflight_end_s,
                "recovery_margin_s": self.goals.recovery_margin_s}

    def longest_s(self, warmup_s: float) -> float:
        """An upper bound of the run's length (for the progress bar and the users' first deadline)."""
        one = self.recovery_timeout_s
        two = self.second_after_s + self.recovery_timeout_s if self.second_engine else 0.0
        return warmup_s + self.kill_at_s + one + two + self.after_recovery_s


def plan_from_vars(v: Mapping[str, Any], engines: list[str],
                   engine_models: Mapping[str, str] | None = None) -> FaultPlan:
    """The fault plan; ``engine_models`` (engine -> served model) for the isolation variant."""
    s = Settings.of(v)
    from ..errors import WorkflowError

    def engine(index: int, setting: str) -> str:
        if not 0 <= index < len(engines):
            raise WorkflowError(f"CONFIG_{setting}={index}, but the stack has {len(engines)} engine(s) "
                                f"({', '.join(engines)}). Fix: choose 0 to {len(engines) - 1}, or raise "
                                "CONFIG_VLLM_REPLICA_COUNT and `make vllm-deploy`.")
        return engines[index]

    second_at = float(s.fault_second_at_s)
    goals = Goals(float(s.fault_max_inflight_end_s), float(s.fault_recovery_margin_s))
    model = s.fault_model
    if model:
        served = dict(engine_models or {})
        mine = [e for e in engines if served.get(e) == model]
        others = sorted({m for e, m in served.items() if m != model})
        if not mine:
            raise WorkflowError(f"CONFIG_VLLM_FAULT_MODEL={model!r}: no engine serves it (served: "
                                f"{', '.join(sorted(set(served.values())))}). Fix: name a served model, or leave it empty.")
        if not others:
            raise WorkflowError(f"CONFIG_VLLM_FAULT_MODEL={model!r} is the only model served: its outage leaves no "
                                "other model to show isolation. Fix: enable CONFIG_VLLM_MODEL2_ENABLED and deploy.")
        return FaultPlan(
            engine=mine[0], together=tuple(mine[1:]), model=model, kill_at_s=float(s.fault_kill_at_s),
            after_recovery_s=float(s.fault_after_recovery_s), recovery_timeout_s=float(s.fault_recovery_timeout_s),
            goals=goals,
        )
    return FaultPlan(
        engine=engine(s.fault_engine, "VLLM_FAULT_ENGINE"),
        kill_at_s=float(s.fault_kill_at_s),
        second_engine=engine(s.fault_second_engine, "VLLM_FAULT_SECOND_ENGINE") if second_at > 0 else None,
        second_after_s=second_at,
        after_recovery_s=float(s.fault_after_recovery_s),
        recovery_timeout_s=float(s.fault_recovery_timeout_s),
        goals=goals,
    )


class FaultDriver:
    def __init__(self, plan: FaultPlan, injector: Injector, observer: Observer) -> None:
        self.plan = plan
        self.injector = injector
        self.observer = observer
        self.faults: list[dict[str, Any]] = []
        self.started_at = 0.0  # epoch seconds of run-clock zero (set by the runner)
        self.note = ""

    async def _wait_until(self, clock: Callable[[], float], t: float, stop: asyncio.Event) -> bool:
        delay = t - clock()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
        return not stop.is_set()

    async def _kill(self, n: int, engine: str, clock: Callable[[], float]) -> float:
        before = clock()
        got = await asyncio.to_thread(self.injector.kill, engine)
        # The host's own time of the kill; bounded by when we asked and when it answered.
        t = min(max(float(got["at"]) - self.started_at, before), clock())
        self.faults.append({"n": n, "engine": engine, "t": round(t, 3), "method": self.injector.method,
                            "detail": got.get("detail", ""), "source": "injector"})
        print(f"💥 fault {n}: {engine} killed at {t:.1f} s ({got.get('detail', '')})", flush=True)
        return t

    async def _recovery(self, engine: str, kill_t: float, clock: Callable[[], float],
                        stop: asyncio.Event) -> float | None:
        deadline = kill_t + self.plan.recovery_timeout_s
        while clock() < deadline and not stop.is_set():
            rows = [r for r in self.observer.rows if r["engine"] == engine]
            serving = serving_again(rows, kill_t)
            if serving is not None:
                print(f"✅ {engine} serves through the router again {serving - kill_t:.1f} s after the kill",
                      flush=True)
                return serving
            await asyncio.sleep(0.25)
        return None

    async def _recovered(self, engine: str, kill_t: float, clock: Callable[[], float], stop: asyncio.Event,
                         set_end: Callable[[float], None]) -> bool:
        """Wait for ``engine`` to serve again; when it does not (or the run is stopped), note why
        and end the run now."""
        if await self._recovery(engine, kill_t, clock, stop) is not None:
            return True
        if not stop.is_set():
            self.note = (f"{engine} did not serve through the router again within "
                         f"{self.plan.recovery_timeout_s:g} s of its kill")
            print(f"❌ {self.note}", flush=True)
        set_end(clock())
        return False

    async def run(self, clock: Callable[[], float], warmup_s: float, stop: asyncio.Event,
                  set_end: Callable[[float], None]) -> None:
        plan = self.plan
        if plan.model:
            await self._outage(clock, warmup_s, stop, set_end)
            return
        targets = [(plan.engine, warmup_s + plan.kill_at_s)]
        if plan.second_engine:
            targets.append((plan.second_engine, plan.second_after_s))
        at = targets[0][1]
        for n, (engine, when) in enumerate(targets, start=1):
            if n > 1:
                at = clock() + when
            if not await self._wait_until(clock, at, stop):
                return
            kill_t = await self._kill(n, engine, clock)
            if not await self._recovered(engine, kill_t, clock, stop, set_end):
                return
        set_end(clock() + plan.after_recovery_s)

    async def _outage(self, clock: Callable[[], float], warmup_s: float, stop: asyncio.Event,
                      set_end: Callable[[float], None]) -> None:
        """The isolation variant: every engine of one model killed at once, then each awaited."""
        plan = self.plan
        if not await self._wait_until(clock, warmup_s + plan.kill_at_s, stop):
            return
        print(f"💥 outage of {plan.model}: every engine of it killed ({', '.join(plan.outage)})", flush=True)
        kills = [(engine, await self._kill(n, engine, clock)) for n, engine in enumerate(plan.outage, start=1)]
        for engine, kill_t in kills:
            if not await self._recovered(engine, kill_t, clock, stop, set_end):
                return
        set_end(clock() + plan.after_recovery_s)
