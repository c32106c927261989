"""Workload settings, prompt lengths, multi-round QA growth and session headers."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from tests.doubles.streaming_stub import MODEL, StubBehaviour, StubInThread, decode, encode
from vllm_workflow import validate
from vllm_workflow.benchmark.client import Target
from vllm_workflow.benchmark.runner import HttpTokenizer, Runner
from vllm_workflow.benchmark.workloads import (
    Workload,
    chat_messages,
    check_fits,
    from_vars,
    parse_rates,
    poisson_arrivals,
    qa_script,
    text_of_length,
    vocabulary,
)
from vllm_workflow.errors import WorkflowError


class WordTokenizer:
    """Test double: the stub's one-token-per-word tokenizer, in process."""

    def encode(self, text: str) -> list[int]:
        return encode(text)

    def decode(self, ids) -> str:
        return decode(list(ids))


def test_workload_defaults_are_the_kconfig_defaults(vars_for) -> None:
    v = vars_for("vllm")
    w = from_vars(v)
    assert w.name == "concurrent"
    defaults = Workload(name="concurrent", rates=())
    assert {f.name: getattr(w, f.name) for f in dataclasses.fields(w) if f.name != "rates"} == \
           {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults) if f.name != "rates"}
    assert from_vars(v | {"vllm_benchmark_workload": "rate-sweep"}).rates == (1.0, 2.0, 4.0)
    with pytest.raises(WorkflowError, match="CONFIG_VLLM_BENCHMARK_WORKLOAD='sweep' is not a workload"):
        from_vars(v | {"vllm_benchmark_workload": "sweep"})


def test_choice_selects_workload(vars_for) -> None:
    v = vars_for("vllm", "CONFIG_VLLM_BENCHMARK_WORKLOAD_MULTI_ROUND_QA=y")
    w = from_vars(v)
    assert w.name == "multi-round-qa"
    assert w.describe()["rounds"] == 5


@pytest.mark.parametrize("text, expected", [("1,2,4", (1.0, 2.0, 4.0)), (" 0.5 , 3", (0.5, 3.0))])
def test_parse_rates(text: str, expected: tuple) -> None:
    assert parse_rates(text) == expected


@pytest.mark.parametrize("text", ["", "1,,x", "0", "-1,2"])
def test_bad_rates_name_the_setting(text: str) -> None:
    with pytest.raises(WorkflowError, match="CONFIG_VLLM_BENCHMARK_RATES"):
        parse_rates(text)


def test_make_rejects_bad_benchmark_settings(vars_for) -> None:
    v = vars_for("vllm", "CONFIG_VLLM_BENCHMARK_WORKLOAD_MULTI_ROUND_QA=y", 'CONFIG_VLLM_BENCHMARK_QA_QPS="fast"')
    assert any("CONFIG_VLLM_BENCHMARK_QA_QPS" in p for p in validate.check(v))
    v = vars_for("vllm", "CONFIG_VLLM_BENCHMARK_WORKLOAD_MULTI_ROUND_QA=y", "CONFIG_VLLM_BENCHMARK_QA_ROUNDS=40")
    problems = validate.check(v)
    assert any("CONFIG_VLLM_MAX_MODEL_LEN is 2048" in p and "_QA_ROUNDS" in p for p in problems), problems
    v = vars_for("vllm", 'CONFIG_VLLM_BENCHMARK_LABEL="my run/1"')
    assert any("CONFIG_VLLM_BENCHMARK_LABEL" in p for p in validate.check(v))
    assert validate.check(vars_for("vllm", "CONFIG_VLLM_BENCHMARK_WORKLOAD_RATE_SWEEP=y")) == []


def test_check_fits_counts_the_whole_history() -> None:
    w = Workload(name="multi-round-qa", qa_rounds=3, qa_system_tokens=100, qa_question_tokens=10,
                 qa_answer_tokens=20)
    assert w.longest_context() == 100 + 3 * 10 + 3 * 20
    check_fits(w, 190)
    with pytest.raises(WorkflowError, match="189"):
        check_fits(w, 189)


def test_text_hits_its_token_target() -> None:
    tok = WordTokenizer()
    vocab = vocabulary(tok, 1)
    rng = random.Random(3)
    for n in (1, 7, 64, 500):
        assert len(tok.encode(text_of_length(tok, rng, vocab, n))) == n


def test_qa_script_is_reproducible_and_sized() -> None:
    tok = WordTokenizer()
    w = Workload(name="multi-round-qa", qa_users=3, qa_rounds=4, qa_system_tokens=50, qa_question_tokens=8, seed=9)
    vocab = vocabulary(tok, w.seed)
    system, users = qa_script(w, tok, vocab)
    again = qa_script(w, tok, vocab)
    assert (system, users) == again
    assert len(tok.encode(system)) == 50
    assert [len(u.questions) for u in users] == [4, 4, 4]
    assert len({u.session for u in users}) == 3
    assert all(len(tok.encode(q)) == 8 for u in users for q in u.questions)
    other = qa_script(dataclasses.replace(w, seed=10), tok, vocab)
    assert other[0] != system


def test_chat_messages_grow_two_per_round() -> None:
    history = [("q1", "a1"), ("q2", "a2")]
    msgs = chat_messages("sys", history, "q3")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in msgs] == ["sys", "q1", "a1", "q2", "a2", "q3"]


def test_poisson_arrivals_have_the_rate() -> None:
    times = poisson_arrivals(random.Random(1), rate=50, duration_s=100)
    assert 4700 < len(times) < 5300
    assert times == sorted(times) and times[-1] < 100


def test_multi_round_qa_sends_growing_history_with_session_headers() -> None:
    behaviour = StubBehaviour(record=True)
    w = Workload(name="multi-round-qa", qa_users=3, qa_rounds=4, qa_system_tokens=30, qa_question_tokens=5,
                 qa_answer_tokens=4, warmup_s=0, seed=5)
    with StubInThread(behaviour) as url:
        target = Target(url, MODEL, session_header="x-session-id")
        runner = Runner(target, w, show_progress=False)
        runner.prepare(HttpTokenizer(target))
        result = asyncio.run(runner.run())
    assert result.complete and len(result.records) == 12
    assert all(r.ok and r.output_tokens == 4 for r in result.records)
    by_session: dict[str, list[dict]] = {}
    for path, headers, body in behaviour.seen:
        assert path == "/v1/chat/completions"
        assert body["max_tokens"] == 4 and body["ignore_eos"] is True and body["stream"] is True
        by_session.setdefault(headers["x-session-id"], []).append(body)
    assert sorted(by_session) == ["user-5-0000", "user-5-0001", "user-5-0002"]
    for bodies in by_session.values():
        assert [len(b["messages"]) for b in bodies] == [2, 4, 6, 8]
        system = bodies[0]["messages"][0]
        assert system["role"] == "system" and len(system["content"].split()) == 30
        last = bodies[-1]["messages"]
        assert last[2] == {"role": "assistant", "content": " t0 t1 t2 t3"}  # the streamed answer is replayed
        assert last[:3] == bodies[1]["messages"][:3]


def test_user_histories_are_each_users_own_after_the_shared_prompt() -> None:
    from vllm_workflow.benchmark.workloads import conversation_system

    tok = WordTokenizer()
    vocab = vocabulary(tok, 1)
    w = dataclasses.replace(Workload(name="multi-round-qa"), qa_users=3, qa_rounds=2, qa_system_tokens=20,
                            qa_question_tokens=5, qa_user_history_tokens=40)
    system, users = qa_script(w, tok, vocab)
    assert [len(tok.encode(u.history)) for u in users] == [40, 40, 40]
    assert len({u.history for u in users}) == 3
    assert all(conversation_system(system, u).startswith(system) and conversation_system(system, u).endswith(u.history)
               for u in users)
    plain = qa_script(dataclasses.replace(w, qa_user_history_tokens=0), tok, vocab)
    assert [u.questions for u in plain[1]] == [u.questions for u in users]  # histories do not change the questions
    assert conversation_system(plain[0], plain[1][0]) == plain[0]
    assert w.longest_context() == 20 + 40 + 2 * 5 + 2 * 32
