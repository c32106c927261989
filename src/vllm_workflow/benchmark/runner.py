"""Run a workload against a deployed stack and collect request records and engine metrics."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import requests

from ..errors import WorkflowError
from . import engine_metrics
from .client import RunClock, Target, TokenPromptBody, chat_body, monotonic_clock, stream_request
from .records import RequestRecord
from .workloads import (ModelPicker, Tokenizer, Workload, chat_messages, conversation_system, poisson_arrivals,
                        qa_script, token_prompt, vocabulary)

PREFLIGHT_TIMEOUT_S = 5.0
#: How long before the measured window opens its counters are read (more than a /metrics read takes).
WINDOW_LEAD_S = 0.1
SAMPLE_INTERVAL_S = 1.0
#: After a timed workload's duration, requests still in flight get this long to finish; then they
#: are cancelled and counted as cancelled (a request to a dead engine must not hold the run for
#: the whole request timeout and stretch the measured window).
DRAIN_GRACE_S = 10.0
#: With a model mix, a user whose request failed waits this long before its next one.
MIX_FAILURE_PAUSE_S = 0.2
OVERRUN = f"cancelled: still running {DRAIN_GRACE_S:g} s after the configured duration"


class HttpTokenizer:
    """The served model's tokenizer through the OpenAI server's /tokenize and /detokenize."""

    def __init__(self, target: Target, base: str = "", model: str = "") -> None:
        self.target = target
        self.base = base or target.api_url  # several models behind the router: one of the model's engines
        self.model = model or target.model

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = self.base + path
        try:
            r = requests.post(url, json={"model": self.model, **payload},
                              headers=self.target.headers(), timeout=30)
            r.raise_for_status()
            return r.json()
        except (requests.RequestException, ValueError) as exc:
            raise WorkflowError(f"{url} failed ({type(exc).__name__}): the benchmark builds prompts with the "
                                "served model's tokenizer. Fix: check `make vllm-status-simplified`.") from exc

    def encode(self, text: str) -> list[int]:
        return list(self._post("/tokenize", {"prompt": text, "add_special_tokens": False})["tokens"])

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._post("/detokenize", {"tokens": list(ids)})["prompt"])


def preflight(target: Target, models: Sequence[str] = ()) -> None:
    """Fail in seconds, naming the URL, when the endpoint is not serving the model (or every model
    of the mix)."""
    url = target.api_url + "/v1/models"
    try:
        r = requests.get(url, headers=target.headers(), timeout=PREFLIGHT_TIMEOUT_S)
    except requests.RequestException as exc:
        raise WorkflowError(f"{url} does not answer ({type(exc).__name__}). Nothing was sent. "
                            "Fix: run `make vllm-status-simplified` to see what is down, then `make vllm-deploy`.") from None
    if r.status_code == 401:
        raise WorkflowError(f"{url} answered 401: the API key is missing or wrong. "
                            "Fix: set CONFIG_VLLM_API_KEY or VLLM_API_KEY to the deployed key.")
    if r.status_code != 200:
        raise WorkflowError(f"{url} answered HTTP {r.status_code}. Fix: run `make vllm-status-simplified`.")
    from ..httpclient import served_models

    served = served_models(r.json())
    for model in models or (target.model,):
        if model not in served:
            raise WorkflowError(f"{url} serves {served}, not {model!r}. Fix: redeploy with `make vllm-deploy`.")


@dataclass
class Progress:
    """Live request/token rates and errors: a rich bar on a terminal, a line every 10 s otherwise."""

    total_label: str
    total: float | None
    records: list[RequestRecord]
    clock: Callable[[], float]
    done: Callable[[], float] = lambda: 0.0
    _bar: Any = None
    _task: Any = None
    _last: float = 0.0
    _checked: int = 0  # records before this index are finished and counted in _errors
    _errors: int = 0

    def __post_init__(self) -> None:
        if sys.stdout.isatty():
            from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[info]}"), transient=False)
            self._task = self._bar.add_task("benchmark", total=self.total, info="")
            self._bar.start()

    def errors(self) -> int:
        """Failed requests so far; each finished record is looked at once (past the oldest in flight)."""
        recs = self.records
        i = self._checked
        while i < len(recs) and recs[i].end is not None:
            self._errors += not recs[i].ok and not recs[i].cancelled
            i += 1
        self._checked = i
        return self._errors + sum(1 for r in recs[i:] if r.end is not None and not r.ok and not r.cancelled)

    def rates(self, span: float = 2.0, request_span: float = 30.0) -> tuple[float, float, int]:
        """Tokens/s over the last ``span`` s; requests/s over the last ``request_span`` s (or the run so
        far, when shorter): requests that each take longer than a 2 s window would read as 0.0 req/s."""
        now = self.clock()
        window = max(min(request_span, now), 1e-9)
        recent = self.records[-5000:]
        done = sum(1 for r in recent if r.end is not None and now - r.end <= window and r.ok)
        tokens = sum(1 for r in recent for t in r.token_times if now - t <= span)
        return done / window, tokens / span, self.errors()

    def update(self) -> None:
        if self._bar is None and self.clock() - self._last < 10:
            return  # in logs: a line every 10 s, and no counting in between
        rps, tps, errors = self.rates()
        info = f"{rps:6.1f} req/s {tps:8.1f} tok/s {errors} errors"
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done(), info=info)
        else:
            self._last = self.clock()
            total = f"/{self.total:g}" if self.total else ""
            print(f"⏳ {self.clock():5.0f} s  {self.done():g}{total} {self.total_label}  {info}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self.update()
            self._bar.stop()


@dataclass
class RunResult:
    records: list[RequestRecord]
    complete: bool
    stop_reason: str
    started_at: float
    engines: dict[str, Any] = field(default_factory=dict)
    engine_series: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)


class Runner:
    """One benchmark run: workload tasks, a metrics sampler, progress and a clean stop."""

    def __init__(self, target: Target, workload: Workload, engines: Sequence[tuple[str, str]] = (),
                 show_progress: bool = True, fault: Any = None, replicas: Any = None,
                 clock: RunClock | None = None) -> None:
        """``fault``: the fault workload's driver; ``replicas``: the scale workload's sampler of the
        cluster's replica counts; ``clock``: the run's clock (the driver's too), when made first."""
        self.t = target
        self.w = workload
        self.engines = list(engines)  # (name, metrics_url)
        self.records: list[RequestRecord] = []
        self.clock = clock or monotonic_clock()
        self.stop = asyncio.Event()
        self.show_progress = show_progress
        self.stages: list[dict[str, Any]] = []
        self._inflight: set[asyncio.Task[Any]] = set()
        self.overrun = 0  # requests cancelled for running past the duration plus DRAIN_GRACE_S
        self._vocab: list[int] = []
        self._script: tuple[str, list[Any]] = ("", [])
        # a model mix: each request's model drawn by weight, prompts from that model's tokenizer
        self.picker = ModelPicker(workload.model_mix) if workload.model_mix else None
        self._vocabs: dict[str, list[int]] = {}
        self._scripts: dict[str, tuple[str, list[Any]]] = {}
        self.fault = fault  # a fault.driver.FaultDriver for the fault workload
        self.replicas = replicas  # an async sampler of the cluster's replica counts (scale workload)
        self._end = 0.0

    # -- preparation (blocking, before the clock matters) ------------------------------------------
    def prepare(self, tokenizer: Tokenizer, per_model: Mapping[str, Tokenizer] | None = None) -> None:
        """Prompts from the measured model's tokenizer; with a model mix, each model's from its own
        (``per_model``, by served name)."""
        self._vocab = vocabulary(tokenizer, self.w.seed)
        chats = self.w.profile.conversations
        if chats:
            self._script = qa_script(self.w, tokenizer, self._vocab)
        for name, _ in self.w.model_mix:
            tok = (per_model or {}).get(name)
            if tok is None:
                raise WorkflowError(f"no tokenizer for {name!r}, a model of the mix")
            self._vocabs[name] = vocabulary(tok, self.w.seed)
            if chats:
                self._scripts[name] = qa_script(self.w, tok, self._vocabs[name])

    def _model(self, rng: random.Random) -> str | None:
        """The model of the next request (None: the one measured model)."""
        return self.picker.pick(rng) if self.picker else None

    def _prompt(self, model: str | None, rng: random.Random) -> list[int]:
        return token_prompt(rng, self._vocabs[model] if model else self._vocab, self.w.prompt_tokens)

    # -- one request -------------------------------------------------------------------------------
    def _new_record(self, session: str | None = None, stage: str | None = None,
                    model: str | None = None) -> RequestRecord:
        rec = RequestRecord(index=len(self.records), send=self.clock(), session=session, stage=stage, model=model)
        rec.warmup = rec.send < self.w.warmup_s
        self.records.append(rec)
        return rec

    async def _send(self, http: aiohttp.ClientSession, path: str, body: bytes, rec: RequestRecord,
                    headers: dict[str, str], keep_text: bool = False) -> str:
        text = await stream_request(http, self.t.api_url + path, body, headers, rec, self.clock,
                                    self.w.timeout_s, keep_text)
        rec.warmup = rec.send < self.w.warmup_s
        return text

    # -- workloads ---------------------------------------------------------------------------------
    def _users(self, http: aiohttp.ClientSession) -> list[Any]:
        """The closed loop's users; each stops sending at ``self._end`` (the fault driver moves it)."""
        headers = self.t.headers()
        bodies = self._bodies()

        async def user(u: int) -> None:
            rng = random.Random(self.w.seed * 7919 + u)
            picks = random.Random(self.w.seed * 104729 + u)  # its own stream: the prompts stay as without a mix
            session = f"user-{self.w.seed}-{u:04d}"
            mine = headers | {self.t.session_header: session}
            while not self.stop.is_set() and self.clock() < self._end:
                model = self._model(picks)
                body = bodies[model](self._prompt(model, rng))
                rec = self._new_record(session=session, model=model)
                await self._send(http, "/v1/completions", body, rec, mine)
                if model and not rec.ok and not self.stop.is_set():
                    # a mixed load while one model is down: its refusals come at once; pause as a
                    # client would rather than spin on them
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), MIX_FAILURE_PAUSE_S)

        return [user(u) for u in range(self.w.users)]

    def _bodies(self) -> dict[str | None, TokenPromptBody]:
        """The completion body builder of each model (None: the measured model)."""
        out = {None: TokenPromptBody(self.t.model, self.w.output_tokens)}
        out.update({name: TokenPromptBody(name, self.w.output_tokens) for name, _ in self.w.model_mix})
        return out

    async def _concurrent(self, http: aiohttp.ClientSession) -> None:
        self._end = self.w.warmup_s + self.w.duration_s
        await self._gather(self._users(http), deadline=self._end + DRAIN_GRACE_S)

    async def _fault_run(self, http: aiohttp.ClientSession) -> None:
        """The closed loop with the fault driver: it kills, waits for recovery and sets the end."""
        driver = self.fault
        self._end = driver.plan.longest_s(self.w.warmup_s)

        def set_end(t: float) -> None:
            self._end = t

        for coro in self._users(http):
            self._spawn(coro)
        observer = asyncio.ensure_future(driver.observer.run(http))
        try:
            await driver.run(self.clock, self.w.warmup_s, self.stop, set_end)
            delay = self._end - self.clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
            await self._drain(deadline=self._end + DRAIN_GRACE_S)
        finally:
            observer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await observer

    async def _rate_sweep(self, http: aiohttp.ClientSession) -> None:
        headers = self.t.headers()
        rng = random.Random(self.w.seed)
        picks = random.Random(self.w.seed * 104729)
        bodies = self._bodies()
        stages = self.w.stage_plan()
        plan = [("warmup", stages[0][1], self.w.warmup_s)] if self.w.warmup_s > 0 else []
        plan += stages
        start = 0.0
        for name, rate, length in plan:
            stage_start = start
            for offset in poisson_arrivals(rng, rate, length):
                delay = stage_start + offset - self.clock()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), delay)
                if self.stop.is_set():
                    return
                model = self._model(picks)
                body = bodies[model](self._prompt(model, rng))
                rec = self._new_record(session=f"req-{self.w.seed}-{len(self.records)}",
                                       stage=None if name == "warmup" else name, model=model)
                self._spawn(self._send(http, "/v1/completions", body, rec,
                                       headers | {self.t.session_header: rec.session or ""}))
            start += length
            if name != "warmup":
                self.stages.append({"name": name, "rate": rate, "start": stage_start, "end": start})
            delay = start - self.clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
        await self._drain(deadline=start + DRAIN_GRACE_S)

    async def _multi_round_qa(self, http: aiohttp.ClientSession) -> None:
        system, users = self._script
        w = self.w
        gap = w.qa_users / w.qa_qps if w.qa_qps > 0 else 0.0

        async def user(u: int) -> None:
            model = self._model(random.Random(w.seed * 104729 + u))  # one model per conversation
            shared, convs = self._scripts[model] if model else (system, users)
            conv = convs[u]
            mine = conversation_system(shared, conv)
            headers = self.t.headers() | {self.t.session_header: conv.session}
            history: list[tuple[str, str]] = []
            next_send = u / w.qa_qps if w.qa_qps > 0 else 0.0
            for rnd, question in enumerate(conv.questions):
                delay = next_send - self.clock()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), delay)
                if self.stop.is_set():
                    return
                body = chat_body(model or self.t.model, chat_messages(mine, history, question), w.qa_answer_tokens)
                rec = self._new_record(session=conv.session, stage=f"round-{rnd + 1}", model=model)
                next_send = rec.send + gap
                answer = await self._send(http, "/v1/chat/completions", body, rec, headers, keep_text=True)
                history.append((question, answer))

        await self._gather(user(u) for u in range(w.qa_users))

    # -- task plumbing -----------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _gather(self, coros: Any, deadline: float | None = None) -> None:
        for c in coros:
            self._spawn(c)
        await self._drain(deadline)

    async def _drain(self, deadline: float | None = None) -> None:
        """Wait for the requests in flight; past ``deadline`` (run clock), cancel the rest as overrun."""
        while self._inflight:
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            _, pending = await asyncio.wait(list(self._inflight), timeout=timeout)
            if pending and deadline is not None and self.clock() >= deadline:
                open_records = [r for r in self.records if r.end is None and not r.cancelled]
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
                for rec in open_records:
                    if rec.cancelled:
                        rec.error = OVERRUN
                        self.overrun += 1

    async def _window_start(self, http: aiohttp.ClientSession, before: dict[str, Any]) -> None:
        """The engines' counters just before the measured window opens: every measured request
        (sent from ``warmup_s`` on) finishes after this read. Taken at the next 1 s sample instead,
        a fast request could finish in between and be measured but not counted."""
        await asyncio.sleep(max(0.0, self.w.warmup_s - WINDOW_LEAD_S - self.clock()))
        reads = await asyncio.gather(*(self._read(http, url) for _, url in self.engines))
        before.update({name: r for (name, _), r in zip(self.engines, reads)})

    async def _sample(self, http: aiohttp.ClientSession, series: list[dict[str, Any]]) -> None:
        """The engines' gauges every second."""
        while True:
            now = self.clock()
            reads = await asyncio.gather(*(self._read(http, url) for _, url in self.engines))
            for (name, _), r in zip(self.engines, reads):
                if r is not None:
                    series.append({"t": now, "engine": name, **{k: r.get(k) for k in engine_metrics.GAUGES}})
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    async def _read(self, http: aiohttp.ClientSession, url: str) -> dict[str, float] | None:
        try:
            async with asyncio.timeout(2.0):
                async with http.get(url, headers=self.t.headers()) as r:
                    return engine_metrics.read(await r.text()) if r.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    def _total(self) -> tuple[str, float | None, Callable[[], float]]:
        label, total = self.w.profile.progress(self.w)
        if label == "requests":
            return label, total, lambda: float(sum(1 for r in self.records if r.end is not None))
        if total is None:
            return label, None, lambda: round(self.clock())
        return label, total, lambda: round(min(self.clock(), total))

    async def run(self) -> RunResult:
        loop = asyncio.get_running_loop()
        interrupted: list[str] = []

        def on_signal(name: str) -> None:
            interrupted.append(name)
            self.stop.set()
            for task in list(self._inflight):
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig.name)
        started_at = time.time()
        self.clock.restart()  # the run's time starts now, for the fault driver too (it shares the clock)
        if self.fault is not None:
            self.fault.started_at = started_at
        label, total, done = self._total()
        progress = Progress(label, total, self.records, self.clock, done) if self.show_progress else None
        before: dict[str, Any] = {}
        series: list[dict[str, Any]] = []
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as http:
            if self.engines and self.w.warmup_s <= 0:  # the measured window starts now
                reads = await asyncio.gather(*(self._read(http, url) for _, url in self.engines))
                before.update({name: r for (name, _), r in zip(self.engines, reads)})
            opener = (asyncio.ensure_future(self._window_start(http, before))
                      if self.engines and self.w.warmup_s > 0 else None)
            sampler = asyncio.ensure_future(self._sample(http, series)) if self.engines else None
            counter = asyncio.ensure_future(self.replicas.run(self.clock, self.stop)) if self.replicas else None
            ticker = asyncio.ensure_future(self._tick(progress)) if progress else None
            work = {"concurrent": self._concurrent, "rate-sweep": self._rate_sweep,
                    "multi-round-qa": self._multi_round_qa, "fault": self._fault_run,
                    "scale": self._rate_sweep}[self.w.name]
            try:
                await work(http)
            except asyncio.CancelledError:
                pass
            await self._drain_after_stop()
            for task in (opener, sampler, ticker, counter):
                if task:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            after = {name: await self._read(http, url) for name, url in self.engines}
        if progress:
            progress.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        names = [n for n, _ in self.engines]
        return RunResult(
            records=self.records,
            complete=not interrupted,
            stop_reason=(f"stopped by {interrupted[0]}" if interrupted else
                         f"finished; {self.overrun} request(s) still running {DRAIN_GRACE_S:g} s after the duration "
                         "were cancelled" if self.overrun else "finished"),
            started_at=started_at,
            engines=engine_metrics.summarize(names, before, after, series) if names else {},
            engine_series=series,
            stages=self.stages,
        )

    async def _drain_after_stop(self) -> None:
        if self.stop.is_set():
            for task in list(self._inflight):
                task.cancel()
            if self._inflight:
                await asyncio.wait(list(self._inflight))

    async def _tick(self, progress: Progress) -> None:
        while True:
            progress.update()
            await asyncio.sleep(0.5)
