"""KV-aware routing on the local backend (issue 27): vLLM's own KV-cache events, relayed to loopback,
feed vllm-router's kv_aware policy. The real engines and router run it in
tests/integration/test_local_stack.py; here the plan, its checks and the relay's arguments."""

from __future__ import annotations

import json

import pytest

from vllm_workflow import validate
from vllm_workflow.arms import config_diff, dev_choices
from vllm_workflow.local import plan as lp
from vllm_workflow.local.target import kv_relay

KV = "CONFIG_VLLM_ROUTER_KV_AWARE=y"
SS_OUTPUT = 'LISTEN 0      100        127.0.0.1:8301       0.0.0.0:*    users:(("nc",pid=4242,fd=3))\n'


def facts(**kw) -> lp.Facts:
    return lp.Facts.from_dict({"home": "/home/u", "cpus": 2, "mem_available_mb": 20000, "hostname": "h1", **kw})


def test_kconfig_offers_kv_aware_locally_with_its_relay_port(vars_for) -> None:
    v = vars_for("vllm-local", KV)
    assert v["vllm_routing_logic"] == "kvaware" and v["vllm_local_kv_events_base_port"] == 8300
    assert lp.routing(v) == ("kvaware", "kv_aware")
    assert validate.check(v) == []


def test_engines_publish_kv_events_on_private_sockets_and_the_relay_forwards_them_to_loopback(vars_for) -> None:
    v = vars_for("vllm-local", KV)
    result = lp.plan(v, facts())
    assert result["errors"] == []
    progs = {p.name: p for p in lp.programs(v, facts(), result["paths"])}
    run = "/home/u/.local/share/vllm-workflow/run"
    for i in (0, 1):
        argv = progs[f"engine-{i}"].argv
        assert "--enable-scale-out" in argv  # the router tokenizes prompts with the render endpoint
        events = json.loads(argv[argv.index("--kv-events-config") + 1])
        assert events == {"enable_kv_cache_events": True, "publisher": "zmq",
                          "endpoint": f"ipc://{run}/kv-events-engine-{i}.sock", "topic": ""}
    relay = progs["kv-relay"]
    assert relay.argv == ["/home/u/.local/share/vllm-workflow/venv-engine/bin/python",
                          "/home/u/.local/share/vllm-workflow/bin/kv_relay.py",
                          f"ipc://{run}/kv-events-engine-0.sock=tcp://127.0.0.1:8300",
                          f"ipc://{run}/kv-events-engine-1.sock=tcp://127.0.0.1:8301"]
    assert relay.priority < progs["router"].priority  # listening before the router subscribes
    assert kv_relay.parse(relay.argv[2:]) == [(a.split("=")[0], a.split("=")[1]) for a in relay.argv[2:]]
    args = result["router_settings"]["args"]
    assert args[args.index("--policy") + 1] == "kv_aware"
    sources = [args[i + 1] for i, a in enumerate(args) if a == "--kv-event-source"]
    assert sources == ["http://127.0.0.1:8100=tcp://127.0.0.1:8300", "http://127.0.0.1:8101=tcp://127.0.0.1:8301"]
    assert args[args.index("--kv-event-block-size") + 1] == str(v["vllm_local_block_size"])
    assert args[args.index("--kv-event-model") + 1] == "tiny-llama"
    assert "kv_relay.py" in lp.HELPERS and result["programs"][:4] == ["engine-0", "engine-1", "kv-relay", "router"]


def test_other_routings_run_no_relay_and_publish_no_events(vars_for) -> None:
    for lines in ((), ("CONFIG_VLLM_ROUTER_PREFIX_AWARE=y",), ("CONFIG_VLLM_ROUTER_ROUND_ROBIN=y",)):
        v = vars_for("vllm-local", *lines)
        progs = lp.programs(v, facts(), lp.paths("/r"))
        assert "kv-relay" not in [p.name for p in progs]
        assert not any("--kv-events-config" in p.argv for p in progs)
        assert "--kv-event-source" not in lp.plan(v, facts())["router_settings"]["args"]


def test_a_relay_port_in_use_is_named_before_anything_starts(vars_for) -> None:
    errors = lp.plan(vars_for("vllm-local", KV), facts(listeners=SS_OUTPUT))["errors"]
    assert errors == ["CONFIG_VLLM_LOCAL_KV_EVENTS_BASE_PORT: port 8301 (engine-1 KV events relay) is already in use "
                      "on h1 by nc (pid 4242). Fix: stop that process, or pick another port with `make menuconfig`."]


@pytest.mark.parametrize(("lines", "expected"), [
    (("CONFIG_VLLM_ENABLE_PREFIX_CACHING=n",), "CONFIG_VLLM_ROUTER_KV_AWARE: KV-aware routing needs prefix caching"),
    (("CONFIG_VLLM_MODEL2_ENABLED=y", "CONFIG_VLLM_MODEL2_SOURCE_TINY=y", 'CONFIG_VLLM_MODEL2_NAME="small-llama"'),
     "CONFIG_VLLM_ROUTER_KV_AWARE: KV-aware routing on the local backend serves one model"),
])
def test_what_kv_aware_routing_cannot_do_here_is_refused_by_make_and_deploy(vars_for, lines, expected) -> None:
    v = vars_for("vllm-local", KV, *lines)
    assert [e for e in validate.check(v) if e.startswith(expected) and "Fix:" in e], validate.check(v)
    assert [e for e in lp.plan(v, facts())["errors"] if e.startswith(expected)]  # and again before a deploy


def test_a_socket_path_too_long_for_the_kernel_is_refused_before_deploy(vars_for) -> None:
    v = vars_for("vllm-local", KV, 'CONFIG_VLLM_LOCAL_RUNTIME_DIR="/srv/' + "x" * 90 + '"')
    errors = lp.plan(v, facts())["errors"]
    assert [e for e in errors if e.startswith("CONFIG_VLLM_LOCAL_RUNTIME_DIR: the KV event socket /srv/xxx")
            and "longer than 107 bytes" in e], errors
    assert lp.plan(vars_for("vllm-local", KV), facts())["errors"] == []


def test_a_dev_arm_that_cannot_route_by_kv_events_is_named_as_the_dev_arm(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_AB_TESTING=y", "CONFIG_VLLM_AB_DEV_ROUTER_KV_AWARE=y",
                 "CONFIG_VLLM_ENABLE_PREFIX_CACHING=n")
    assert [e for e in validate.check(v) if e.startswith("dev arm: CONFIG_VLLM_AB_DEV_ROUTER_KV_AWARE: KV-aware "
                                                         "routing needs prefix caching")], validate.check(v)


def test_the_dev_arm_can_route_by_kv_events_against_the_baseline_s_round_robin(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_ROUTER_ROUND_ROBIN=y", "CONFIG_VLLM_AB_TESTING=y",
                 "CONFIG_VLLM_AB_DEV_ROUTER_KV_AWARE=y", "CONFIG_VLLM_AB_DEV_PORT_OFFSET=500")
    assert config_diff(v) == [{"setting": "CONFIG_VLLM_ROUTING_LOGIC", "baseline": "roundrobin", "dev": "kvaware"}]
    assert dev_choices(v)["routing"] == "kv-aware"
    base = lp.plan(v, facts(ab_arm="baseline", instance="baseline"))
    dev = lp.plan(v, facts(ab_arm="dev", instance="dev"))
    assert base["errors"] == [] == dev["errors"]
    assert "kv-relay" not in base["programs"] and "kv-relay" in dev["programs"]
    sources = [a for a in dev["router_settings"]["args"] if a.startswith("http://")]
    assert sources == ["http://127.0.0.1:8600=tcp://127.0.0.1:8800", "http://127.0.0.1:8601=tcp://127.0.0.1:8801"]
    assert "/instances/dev/run/kv-events-engine-0.sock" in dev["supervisord_conf"]


@pytest.mark.parametrize("arg", ["tcp://127.0.0.1:1=tcp://127.0.0.1:2", "ipc:///r/a.sock=tcp://0.0.0.0:9",
                                 "ipc:///r/a.sock", ""])
def test_the_relay_forwards_only_a_socket_to_loopback(arg) -> None:
    with pytest.raises(ValueError, match="SOURCE=TARGET"):
        kv_relay.parse([arg])
    assert kv_relay.main(["kv_relay.py", arg]) == 2
