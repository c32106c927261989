"""Workload settings and the prompts they send.

Prompts are built from the served model's own tokenizer (its ``/tokenize`` and
``/detokenize`` endpoints), so lengths are in the model's tokens and nothing is
downloaded. Concurrent and rate-sweep requests send token-id prompts to
``/v1/completions`` (exact lengths, every prompt different, no per-request
tokenizer call); multi-round QA sends text chats to ``/v1/chat/completions``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ..errors import WorkflowError
from ..settings import Settings


_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if more no out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now such "
    "like our over man me even most made after also did many before must through back years where much "
    "your way well down should because each just those people how too little state good very make world "
    "still own see men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three kernel cache router "
    "engine token latency throughput session prefix memory scheduler request answer question system"
).split()


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...


@dataclass(frozen=True)
class Workload:
    """What to send. Field meanings follow the Kconfig "Benchmark" menu."""

    name: str
    warmup_s: float = 5.0
    seed: int = 42
    timeout_s: float = 300.0
    # concurrent
    users: int = 4
    duration_s: float = 60.0
    # concurrent and rate-sweep
    prompt_tokens: int = 128
    output_tokens: int = 32
    # rate-sweep
    rates: tuple[float, ...] = ()
    stage_s: float = 30.0
    # multi-round QA
    qa_users: int = 8
    qa_rounds: int = 5
    qa_system_tokens: int = 1000
    qa_user_history_tokens: int = 0
    qa_question_tokens: int = 64
    qa_answer_tokens: int = 32
    qa_qps: float = 0.0
    # scale (Kubernetes): Poisson arrivals ramping up to a peak, held, ramping down
    scale_peak_rate: float = 8.0
    scale_steps: int = 4
    scale_step_s: float = 60.0
    scale_hold_s: float = 300.0
    # several models behind one router: (served name, weight) of each model the load is spread over;
    # empty: every request names the one measured model
    model_mix: tuple[tuple[str, float], ...] = ()

    @property
    def profile(self) -> Profile:
        """This workload's own behaviour (one class per workload, registered in PROFILES)."""
        return PROFILES[self.name]

    def stage_plan(self) -> list[tuple[str, float, float]]:
        """(name, rate, seconds) of every stage of an open-loop workload (rate sweep, scale)."""
        return self.profile.stage_plan(self)

    def describe(self) -> dict[str, Any]:
        """The parameters that matter for this workload (for the results)."""
        common = {"name": self.name, "warmup_s": self.warmup_s, "seed": self.seed, "timeout_s": self.timeout_s}
        if self.model_mix:
            common["model_mix"] = dict(self.model_mix)
        return common | self.profile.describe(self)

    def longest_context(self) -> int:
        """Most tokens one request can need (prompt plus output), chat template excluded."""
        return self.profile.longest_context(self)


class Profile:
    """One workload: the settings it reads from the shared ``Workload`` record, how it is described,
    how long its requests get, its stages, and how its progress is counted. The runner drives it
    by ``name``; ``conversations``: it sends chats built from a script (multi-round QA)."""

    name: ClassVar[str]
    conversations: ClassVar[bool] = False
    #: False: a package built on the benchmark completes it through a registered extension
    #: (benchmark/extensions.py), as fault/ does for the fault workload.
    own: ClassVar[bool] = True

    def describe(self, w: Workload) -> dict[str, Any]:
        return {"prompt_tokens": w.prompt_tokens, "output_tokens": w.output_tokens}

    def longest_context(self, w: Workload) -> int:
        return w.prompt_tokens + w.output_tokens

    def stage_plan(self, w: Workload) -> list[tuple[str, float, float]]:
        return []

    def progress(self, w: Workload) -> tuple[str, float | None]:
        """What the progress bar counts ("s" of the run, or "requests" finished) and its total."""
        return "s", w.warmup_s + sum(t for _, _, t in self.stage_plan(w))

    def too_long(self, w: Workload, need: int, max_model_len: int) -> str:
        return (f"prompt {w.prompt_tokens} + output {w.output_tokens} tokens exceed CONFIG_VLLM_MAX_MODEL_LEN="
                f"{max_model_len}. Fix: lower CONFIG_VLLM_BENCHMARK_PROMPT_TOKENS or _OUTPUT_TOKENS, or raise "
                "CONFIG_VLLM_MAX_MODEL_LEN.")


class Concurrent(Profile):
    """N users in a closed loop for a fixed duration."""

    name = "concurrent"

    def describe(self, w: Workload) -> dict[str, Any]:
        return {"users": w.users, "duration_s": w.duration_s, **super().describe(w)}

    def progress(self, w: Workload) -> tuple[str, float | None]:
        return "s", w.warmup_s + w.duration_s


class Fault(Profile):
    """The closed loop while engines are killed; it runs until they serve again (fault/)."""

    name = "fault"
    own = False

    def describe(self, w: Workload) -> dict[str, Any]:
        return {"users": w.users, **super().describe(w)}

    def progress(self, w: Workload) -> tuple[str, float | None]:
        return "s", None  # the fault driver decides when it ends


class RateSweep(Profile):
    """Poisson arrivals at each configured rate, one stage per rate."""

    name = "rate-sweep"

    def describe(self, w: Workload) -> dict[str, Any]:
        return {"rates": list(w.rates), "stage_s": w.stage_s, **super().describe(w)}

    def stage_plan(self, w: Workload) -> list[tuple[str, float, float]]:
        return [(f"{r:g}/s", r, w.stage_s) for r in w.rates]


class Scale(Profile):
    """Poisson arrivals stepping up to a peak, held, stepping down (Kubernetes' autoscaler)."""

    name = "scale"

    def describe(self, w: Workload) -> dict[str, Any]:
        return {"peak_rate": w.scale_peak_rate, "steps": w.scale_steps, "step_s": w.scale_step_s,
                "hold_s": w.scale_hold_s, **super().describe(w)}

    def stage_plan(self, w: Workload) -> list[tuple[str, float, float]]:
        n, peak = w.scale_steps, w.scale_peak_rate
        up = [(f"up {peak * i / n:g}/s", peak * i / n, w.scale_step_s) for i in range(1, n)]
        down = [(f"down {peak * i / n:g}/s", peak * i / n, w.scale_step_s) for i in range(n - 1, 0, -1)]
        return [*up, (f"hold {peak:g}/s", peak, w.scale_hold_s), *down]


class MultiRoundQA(Profile):
    """Users holding multi-round chats over a shared system prompt and their own history."""

    name = "multi-round-qa"
    conversations = True

    def describe(self, w: Workload) -> dict[str, Any]:
        return {"users": w.qa_users, "rounds": w.qa_rounds, "system_prompt_tokens": w.qa_system_tokens,
                "user_history_tokens": w.qa_user_history_tokens, "question_tokens": w.qa_question_tokens,
                "answer_tokens": w.qa_answer_tokens, "qps": w.qa_qps}

    def longest_context(self, w: Workload) -> int:
        r = w.qa_rounds
        return w.qa_system_tokens + w.qa_user_history_tokens + r * w.qa_question_tokens + r * w.qa_answer_tokens

    def progress(self, w: Workload) -> tuple[str, float | None]:
        return "requests", float(w.qa_users * w.qa_rounds)

    def too_long(self, w: Workload, need: int, max_model_len: int) -> str:
        return (f"multi-round QA needs up to {need} tokens per request (system prompt {w.qa_system_tokens} + "
                f"user history {w.qa_user_history_tokens} + "
                f"{w.qa_rounds} rounds × ({w.qa_question_tokens} question + {w.qa_answer_tokens} answer)) but "
                f"CONFIG_VLLM_MAX_MODEL_LEN is {max_model_len}. Fix: lower CONFIG_VLLM_BENCHMARK_QA_ROUNDS, "
                "_QA_SYSTEM_PROMPT_TOKENS, _QA_USER_HISTORY_TOKENS, _QA_QUESTION_TOKENS or _QA_ANSWER_TOKENS, or raise "
                "CONFIG_VLLM_MAX_MODEL_LEN.")


#: Every workload by name (the names Kconfig's VLLM_BENCHMARK_WORKLOAD gives them).
PROFILES: dict[str, Profile] = {p.name: p for p in (Concurrent(), MultiRoundQA(), RateSweep(), Fault(), Scale())}
WORKLOADS = tuple(PROFILES)


#: VLLM_BENCHMARK_MODEL_MIX's value for "every served model, equal weights".
EVERY_MODEL = "all"


def parse_mix(text: str, served: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``"tiny-llama=3, small-llama=1"`` -> ((name, weight), ...); ``"all"`` weighs every served model
    equally; ``""`` is no mix. Every name must be one of ``served``, every weight a number > 0."""
    text = str(text or "").strip()
    if not text:
        return ()
    if text == EVERY_MODEL:
        return tuple((name, 1.0) for name in served)
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, weight = part.rpartition("=")
        if not sep:
            name, weight = part, "1"
        name = name.strip()
        if name not in served:
            raise WorkflowError(f"CONFIG_VLLM_BENCHMARK_MODEL_MIX={text!r}: {name!r} is not a served model "
                                f"({', '.join(served)}). Fix: name served models, e.g. "
                                f"\"{'=1,'.join(served)}=1\", or \"{EVERY_MODEL}\".")
        if name in out:
            raise WorkflowError(f"CONFIG_VLLM_BENCHMARK_MODEL_MIX={text!r}: {name!r} appears twice. Fix: name each "
                                "model once.")
        value = _number(weight.strip(), "vllm_benchmark_model_mix")
        if value <= 0:
            raise WorkflowError(f"CONFIG_VLLM_BENCHMARK_MODEL_MIX={text!r}: {name!r} has weight {weight.strip()}. "
                                "Fix: give every model a weight > 0 (leave a model out to send it nothing).")
        out[name] = value
    if not out:
        raise WorkflowError(f"CONFIG_VLLM_BENCHMARK_MODEL_MIX={text!r} names no model. Fix: e.g. "
                            f"\"{served[0]}=1\", \"{EVERY_MODEL}\", or empty for one model.")
    return tuple(out.items())


class ModelPicker:
    """Draws the model of each request (or conversation) from the mix, by weight."""

    def __init__(self, mix: Sequence[tuple[str, float]]) -> None:
        self.names = [name for name, _ in mix]
        self.weights = [weight for _, weight in mix]

    def pick(self, rng: random.Random) -> str:
        return rng.choices(self.names, weights=self.weights)[0]


def _number(text: str, setting: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise WorkflowError(f"CONFIG_{setting.upper()}={text!r} is not a number. Fix: set a decimal like 2 or 0.5.") from None
    if value < 0 or value != value or value == float("inf"):
        raise WorkflowError(f"CONFIG_{setting.upper()}={text!r} must be a finite number ≥ 0. Fix: set e.g. 0.5 "
                            "(0 sends without pauses).")
    return value


def parse_rates(text: str) -> tuple[float, ...]:
    """``"1, 2,4.5"`` -> (1.0, 2.0, 4.5); every rate > 0."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    rates = tuple(_number(p, "vllm_benchmark_rates") for p in parts)
    if not rates or any(r <= 0 for r in rates):
        raise WorkflowError(
            f"CONFIG_VLLM_BENCHMARK_RATES={text!r}: no rates. Fix: give one or more rates > 0, comma separated, "
            "e.g. \"1,2,4\"."
        )
    return rates


def settings_values(s: Settings) -> dict[str, Any]:
    """The workload fields the settings give (Kconfig holds the defaults: a setting missing from a
    partial mapping, e.g. in a test, reads as Kconfig's default, which a test keeps equal to the
    field's own)."""
    return {
        "warmup_s": float(s.benchmark_warmup_seconds), "seed": s.benchmark_seed,
        "timeout_s": float(s.benchmark_request_timeout), "users": s.benchmark_concurrent_users,
        "duration_s": float(s.benchmark_duration), "prompt_tokens": s.benchmark_prompt_tokens,
        "output_tokens": s.benchmark_output_tokens, "stage_s": float(s.benchmark_stage_duration),
        "qa_users": s.benchmark_qa_users, "qa_rounds": s.benchmark_qa_rounds,
        "qa_system_tokens": s.benchmark_qa_system_prompt_tokens,
        "qa_user_history_tokens": s.benchmark_qa_user_history_tokens,
        "qa_question_tokens": s.benchmark_qa_question_tokens, "qa_answer_tokens": s.benchmark_qa_answer_tokens,
        "scale_steps": s.scale_steps, "scale_step_s": float(s.scale_step_s), "scale_hold_s": float(s.scale_hold_s),
    }


def from_vars(v: Mapping[str, Any], served: Sequence[str] = ()) -> Workload:
    """The workload the configuration selects (extra vars from ``make``); ``served``: the models the
    stack serves (the model mix is read only with several)."""
    s = Settings.of(v)
    name = str(s.benchmark_workload or "concurrent")
    if name not in WORKLOADS:
        raise WorkflowError(f"CONFIG_VLLM_BENCHMARK_WORKLOAD={name!r} is not a workload ({', '.join(WORKLOADS)}). "
                            "Fix: choose one with `make menuconfig` (Benchmark ▸ Workload).")

    values = settings_values(s)
    # Rates, QA pacing and the scale peak are decimals Kconfig keeps as strings: read for their workload only.
    if name == "multi-round-qa" and s.benchmark_qa_qps:
        values["qa_qps"] = _number(s.benchmark_qa_qps, "vllm_benchmark_qa_qps")
    if name == "scale" and s.scale_peak_rate:
        values["scale_peak_rate"] = _number(s.scale_peak_rate, "vllm_scale_peak_rate")
    if name == "rate-sweep":
        values["rates"] = parse_rates(s.benchmark_rates or "")
    mix = s.benchmark_model_mix.strip()
    if not mix and name == "fault" and s.fault_model:
        mix = EVERY_MODEL  # one model's outage: the load on every model, so the others show isolation
    if mix and len(served) == 1:
        raise WorkflowError(f"CONFIG_VLLM_BENCHMARK_MODEL_MIX={mix!r}, but only {served[0]!r} is served. Fix: enable "
                            "more models (CONFIG_VLLM_MODEL2_ENABLED) and `make vllm-deploy`, or leave the mix empty.")
    if mix and served:
        values["model_mix"] = parse_mix(mix, served)
    return Workload(name=name, **values)


def check_fits(w: Workload, max_model_len: int) -> None:
    """Refuse a workload whose longest request cannot fit the engines' context."""
    need = w.longest_context()
    if need > max_model_len:
        raise WorkflowError(w.profile.too_long(w, need, max_model_len))


def corpus_text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def vocabulary(tok: Tokenizer, seed: int) -> list[int]:
    """Token ids the model really produces for text (sampling these makes valid prompts)."""
    ids = sorted(set(tok.encode(corpus_text(seed, 3000))))
    if len(ids) < 16:
        raise WorkflowError(f"the served model's tokenizer returned only {len(ids)} distinct tokens for sample text")
    return ids


def text_of_length(tok: Tokenizer, rng: random.Random, vocab: Sequence[int], n: int, tries: int = 4) -> str:
    """Text that the model's tokenizer encodes to ``n`` tokens (exactly, when a few tries allow)."""
    if n <= 0:
        return ""
    words = [rng.choice(_WORDS) for _ in range(n * 2 + 8)]
    ids = tok.encode(" ".join(words))[:n]
    text = tok.decode(ids)
    for _ in range(tries):
        got = tok.encode(text)
        if len(got) == n:
            return text
        if len(got) > n:
            text = tok.decode(got[:n])
        else:
            text = text + " " + tok.decode([rng.choice(vocab) for _ in range(n - len(got))])
    return text


@dataclass(frozen=True)
class Conversation:
    """One multi-round QA user: session id, the user's own earlier history (may be empty) and the
    question for every round."""

    session: str
    questions: tuple[str, ...]
    history: str = ""


def qa_script(w: Workload, tok: Tokenizer, vocab: Sequence[int]) -> tuple[str, list[Conversation]]:
    """The shared system prompt and every user's questions, reproducible from the seed."""
    rng = random.Random(w.seed)
    system = text_of_length(tok, rng, vocab, w.qa_system_tokens)
    questions = [tuple(text_of_length(tok, rng, vocab, w.qa_question_tokens) for _ in range(w.qa_rounds))
                 for _ in range(w.qa_users)]
    # Drawn after every question, so a run without user histories sends the same questions.
    histories = [text_of_length(tok, rng, vocab, w.qa_user_history_tokens) for _ in range(w.qa_users)]
    users = [Conversation(session=f"user-{w.seed}-{u:04d}", questions=questions[u], history=histories[u])
             for u in range(w.qa_users)]
    return system, users


def conversation_system(system: str, conv: Conversation) -> str:
    """The system message of one user: the shared prompt, then that user's own history (what the
    production stack's multi-round QA benchmark calls the user history prompt)."""
    return f"{system}\n\n{conv.history}" if conv.history else system


def chat_messages(system: str, history: Sequence[tuple[str, str]], question: str) -> list[dict[str, str]]:
    """The messages of one round: system prompt, every earlier question and answer, the new question."""
    msgs = [{"role": "system", "content": system}] if system else []
    for q, a in history:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": question})
    return msgs


def token_prompt(rng: random.Random, vocab: Sequence[int], n: int) -> list[int]:
    """A fresh prompt of exactly ``n`` token ids."""
    return rng.choices(vocab, k=n)


def poisson_arrivals(rng: random.Random, rate: float, duration_s: float) -> list[float]:
    """Send offsets (seconds) of a Poisson process at ``rate``/s over ``duration_s``."""
    out: list[float] = []
    t = rng.expovariate(rate)
    while t < duration_s:
        out.append(t)
        t += rng.expovariate(rate)
    return out
