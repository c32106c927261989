"""Several models behind one router (issue 27): the settings, their problems, the local plan (engines
per model, the router's inference-gateway mode), the stack description, and the checks per model."""

from __future__ import annotations

import json

import pytest

from vllm_workflow import models, validate
from vllm_workflow.local import plan as lp
from vllm_workflow.local.target import router_launcher
from vllm_workflow.stack import Stack

FACTS = {"home": "/home/u", "cpus": 4, "mem_available_mb": 20000, "hostname": "h1"}


def test_the_multi_model_defconfig_serves_both_built_in_models(vars_for) -> None:
    v = vars_for("vllm-local-multi-model")
    specs = models.models(v)
    assert [(m.index, m.name, m.source, m.preset, m.replicas) for m in specs] == [
        (1, "tiny-llama", "tiny", "tiny", 1), (2, "small-llama", "tiny", "small", 1)]
    assert validate.check(v) == []
    out = lp.plan(v, lp.Facts.from_dict(FACTS))
    assert out["errors"] == []
    assert [(b["preset"], b["location"].rsplit("/", 1)[1]) for b in out["model_builds"]] == [
        ("tiny", "tiny-tiny"), ("small", "tiny-small")]
    conf = out["supervisord_conf"]
    assert "--served-model-name tiny-llama" in conf and "--served-model-name small-llama" in conf
    assert "/models/tiny-small --served-model-name small-llama" in conf
    router = out["router_settings"]
    assert "--enable-igw" in router["args"]
    assert router["worker_models"] == {"http://127.0.0.1:8100": "tiny-llama", "http://127.0.0.1:8101": "small-llama"}
    stack = out["stack"]
    assert stack["models"] == ["tiny-llama", "small-llama"]
    assert [(e["name"], e["model"]) for e in stack["engines"]] == [("engine-0", "tiny-llama"),
                                                                  ("engine-1", "small-llama")]


def test_one_model_plans_exactly_as_before(vars_for) -> None:
    out = lp.plan(vars_for("vllm-local"), lp.Facts.from_dict(FACTS))
    assert "--enable-igw" not in out["router_settings"]["args"] and "worker_models" not in out["router_settings"]
    assert [e["name"] for e in out["stack"]["engines"]] == ["engine-0", "engine-1"]
    assert router_launcher.router_argv(out["router_settings"])[-3:] == [
        "--worker-urls", "http://127.0.0.1:8100", "http://127.0.0.1:8101"]


def test_engines_and_ports_follow_each_model(vars_for) -> None:
    v = vars_for("vllm-local-multi-model", "CONFIG_VLLM_REPLICA_COUNT=2", "CONFIG_VLLM_MODEL2_REPLICAS=2",
                 "CONFIG_VLLM_MODEL3_ENABLED=y", "CONFIG_VLLM_MODEL3_SOURCE_PATH=y",
                 'CONFIG_VLLM_MODEL3_PATH="/srv/m3"', 'CONFIG_VLLM_MODEL3_NAME="m3"',
                 'CONFIG_VLLM_MODEL3_EXTRA_ENGINE_ARGS="--max-num-seqs 8"')
    engines = lp.engines_of(v, "127.0.0.1")
    assert [(e.name, e.port, e.model.name) for e in engines] == [
        ("engine-0", 8100, "tiny-llama"), ("engine-1", 8101, "tiny-llama"), ("engine-2", 8102, "small-llama"),
        ("engine-3", 8103, "small-llama"), ("engine-4", 8104, "m3")]
    assert [p[2] for p in validate.local_port_plan(v) if p[2].startswith("engine-")] == [e.name for e in engines]
    facts = lp.Facts.from_dict(FACTS | {"model_paths_exist": {"/srv/m3": False}})
    out = lp.plan(v, facts)
    assert any(e.startswith("CONFIG_VLLM_MODEL3_PATH: /srv/m3 does not exist on h1") for e in out["errors"])
    conf = lp.plan(v, lp.Facts.from_dict(FACTS | {"model_paths_exist": {"/srv/m3": True},
                                                  "mem_available_mb": 40000}))["supervisord_conf"]
    assert "--model /srv/m3 --served-model-name m3" in conf and conf.count("--max-num-seqs 8") == 1


@pytest.mark.parametrize(("lines", "words"), [
    (['CONFIG_VLLM_MODEL2_NAME="tiny-llama"'], "CONFIG_VLLM_MODEL2_NAME: 'tiny-llama' is also model 1's"),
    (['CONFIG_VLLM_MODEL2_NAME=""'], "CONFIG_VLLM_MODEL2_NAME: model 2 has no served name"),
    (['CONFIG_VLLM_MODEL2_NAME="two words"'], "CONFIG_VLLM_MODEL2_NAME: 'two words' cannot be routed"),
    (["CONFIG_VLLM_MODEL2_SOURCE_HUB=y", 'CONFIG_VLLM_MODEL2_URL=""'], "CONFIG_VLLM_MODEL2_URL: model 2 comes from"),
    (['CONFIG_VLLM_MODEL2_EXTRA_ENGINE_ARGS="--x \'"'], "CONFIG_VLLM_MODEL2_EXTRA_ENGINE_ARGS: cannot be split"),
])
def test_bad_model_settings_are_named_with_the_fix(vars_for, lines: list[str], words: str) -> None:
    problems = validate.check(vars_for("vllm-local-multi-model", *lines))
    assert any(p.startswith(words) and "Fix:" in p for p in problems), problems


def test_replicas_that_do_not_fit_are_refused_before_deploy(vars_for) -> None:
    v = vars_for("vllm-local-multi-model", "CONFIG_VLLM_MODEL2_REPLICAS=3")
    errors = lp.plan(v, lp.Facts.from_dict(FACTS | {"mem_available_mb": 6000}))["errors"]
    assert any("4 more engine(s) need about 10240 MiB" in e for e in errors), errors


def test_the_launcher_registers_each_worker_with_its_model(monkeypatch: pytest.MonkeyPatch) -> None:
    posted, probed = [], []

    class Response:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b"{}"

    def urlopen(request, timeout):
        if isinstance(request, str):  # the engine's /health, before it is registered
            probed.append(request)
            return Response()
        posted.append((request.full_url, json.loads(request.data), request.get_header("Authorization")))
        return Response()

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    settings = {"args": ["--host", "0.0.0.0", "--port", "8000", "--enable-igw"], "api_key": "k",
                "workers": ["http://127.0.0.1:8100", "http://127.0.0.1:8101"],
                "worker_models": {"http://127.0.0.1:8100": "a", "http://127.0.0.1:8101": "b"}}
    assert router_launcher.router_argv(settings) == settings["args"]  # the gateway mode ignores --worker-urls
    assert router_launcher.register_workers(settings) == settings["workers"]
    assert probed == ["http://127.0.0.1:8100/health", "http://127.0.0.1:8101/health"]
    assert posted == [("http://127.0.0.1:8000/workers", {"url": "http://127.0.0.1:8100", "model_id": "a"}, "Bearer k"),
                      ("http://127.0.0.1:8000/workers", {"url": "http://127.0.0.1:8101", "model_id": "b"}, "Bearer k")]


def test_the_stack_is_seen_per_model(vars_for) -> None:
    out = lp.plan(vars_for("vllm-local-multi-model"), lp.Facts.from_dict(FACTS))
    stack = Stack.from_dict(out["stack"])
    assert stack.models == ("tiny-llama", "small-llama")
    small = stack.for_model("small-llama")
    assert small.model == "small-llama" and [e.name for e in small.engines] == ["engine-1"]
    single = Stack.from_dict(lp.plan(vars_for("vllm-local"), lp.Facts.from_dict(FACTS))["stack"])
    assert single.models == ("tiny-llama",) and single.serves(single.engines[0]) == "tiny-llama"


def test_served_models_reads_both_answers_of_v1_models() -> None:
    from vllm_workflow.httpclient import served_models

    assert served_models({"object": "list", "data": [{"id": "a"}, {"id": "b"}]}) == ["a", "b"]
    assert served_models({"models": ["b", "a"]}) == ["b", "a"]  # the router's inference-gateway mode


def test_kubernetes_renders_one_model_spec_per_model_and_sums_their_requests(vars_for) -> None:
    from vllm_workflow.kubernetes import resources, values

    v = vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_MODEL2_ENABLED=y", 'CONFIG_VLLM_MODEL2_URL="Qwen/Qwen3-0.6B"',
                 'CONFIG_VLLM_MODEL2_NAME="qwen3"', "CONFIG_VLLM_MODEL2_REPLICAS=3", "CONFIG_VLLM_MODEL2_REQUEST_CPU=2",
                 'CONFIG_VLLM_MODEL2_REQUEST_MEMORY="8Gi"', 'CONFIG_VLLM_MODEL2_EXTRA_ENGINE_ARGS="--max-num-seqs 4"')
    too_small = [p for p in validate.check(v) if "Minikube node has 4" in p]
    assert too_small and "engine qwen3: 3 × (2 CPU, 8.0 GiB)" in too_small[0] and "CONFIG_VLLM_MODELn_REPLICAS" in too_small[0]
    v = {**v, "vllm_minikube_cpus": 16, "vllm_minikube_memory_mb": 65536}
    assert validate.check(v) == []
    rendered = values.render(v, hf_token=False, api_key=False)
    specs = rendered["servingEngineSpec"]["modelSpec"]
    assert [(s["name"], s["modelURL"], s["replicaCount"], s["requestCPU"], s["requestMemory"]) for s in specs] == [
        ("facebook-opt-125m", "facebook/opt-125m", 2, 1, "6Gi"), ("qwen3", "Qwen/Qwen3-0.6B", 3, 2, "8Gi")]
    assert specs[1]["vllmConfig"]["extraArgs"][:4] == ["--max-num-seqs", "4", "--served-model-name", "qwen3"]
    assert specs[1]["vllmConfig"]["maxModelLen"] == specs[0]["vllmConfig"]["maxModelLen"]
    engines = [r for r in resources.requests(rendered, minikube=True) if r.what.startswith("engine")]
    assert [(r.what, r.count) for r in engines] == [("engine facebook-opt-125m", 2), ("engine qwen3", 3)]


def test_deploy_waits_until_the_router_lists_every_engine_as_healthy(vars_for, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests as rq

    from vllm_workflow import readiness

    stack = Stack.from_dict(lp.plan(vars_for("vllm-local-multi-model"), lp.Facts.from_dict(FACTS))["stack"])
    answers = [{"workers": [{"url": "http://127.0.0.1:8100", "is_healthy": True}]},
               {"workers": [{"url": "http://127.0.0.1:8100", "is_healthy": True},
                            {"url": "http://127.0.0.1:8101", "is_healthy": False}]},
               {"workers": [{"url": "http://127.0.0.1:8100", "is_healthy": True},
                            {"url": "http://127.0.0.1:8101", "is_healthy": True}]}]

    class Answer:
        def __init__(self, body):
            self.body = body

        def json(self):
            return self.body

    monkeypatch.setattr(rq, "get", lambda url, headers, timeout: Answer(answers.pop(0)))
    assert [readiness.router_knows_workers(stack, "") for _ in range(3)] == [False, False, True]
    single = Stack.from_dict(lp.plan(vars_for("vllm-local"), lp.Facts.from_dict(FACTS))["stack"])
    assert readiness.router_knows_workers(single, "")  # one model: nothing to ask


def test_a_benchmark_measures_one_model_through_the_router(vars_for) -> None:
    from vllm_workflow.benchmark.service import model_view
    from vllm_workflow.errors import WorkflowError

    stack = Stack.from_dict(lp.plan(vars_for("vllm-local-multi-model"), lp.Facts.from_dict(FACTS))["stack"])
    first = model_view(stack, None)
    assert first.model == "tiny-llama" and [e.name for e in first.engines] == ["engine-0"]
    small = model_view(stack, "small-llama")
    assert small.model == "small-llama" and [e.name for e in small.engines] == ["engine-1"]
    assert small.api_url == stack.api_url  # through the router, like every client
    with pytest.raises(WorkflowError, match="MODEL='nobody': h1 serves tiny-llama, small-llama. Fix"):
        model_view(stack, "nobody")
    single = Stack.from_dict(lp.plan(vars_for("vllm-local"), lp.Facts.from_dict(FACTS))["stack"])
    assert model_view(single, None) is single and model_view(single, "tiny-llama") is single
