"""The supervisor agent's `up` names what it changed and why (the deploy prints it; the step is no_log)."""

from __future__ import annotations

from tests.helpers import load_target


def test_every_change_is_named_with_its_reason_in_the_order_done() -> None:
    agent = load_target("supervisor_agent")
    result = {"changed": True, "prometheus": {"changed": True, "reloaded": True}, "conf_changed": True,
              "router": {"changed": True, "restart_needed": True, "added": [],
                         "removed": ["http://127.0.0.1:8101", "http://127.0.0.1:8102"],
                         "drained_after_s": {"http://127.0.0.1:8101": 0.4, "http://127.0.0.1:8102": 2.04}},
              "daemon": {"changed": False},
              "apply": {"changed": True, "added": ["engine-2"], "updated": ["engine-0"], "removed": ["engine-1"],
                        "started": ["node-exporter"], "reaped": [4242]},
              "router_restarted": True}
    assert agent.actions(result) == [
        "wrote the Prometheus configuration (promtool accepted it)",
        "wrote supervisord.conf (the process plan changed)",
        "wrote the router settings (its arguments or API key changed)",
        "took http://127.0.0.1:8101, http://127.0.0.1:8102 out of the router before stopping them (drained in 2.0 s)",
        "removed engine-1 (no longer in the plan)",
        "restarted engine-0 (command line or environment changed)",
        "added and started engine-2 (new in the plan)",
        "started node-exporter (was down)",
        "stopped stray processes of this runtime left by an earlier run (pids 4242)",
        "restarted router (its arguments or API key changed)",
        "made Prometheus reread its configuration (SIGHUP)",
    ]


def test_a_first_start_and_a_no_change_deploy() -> None:
    agent = load_target("supervisor_agent")
    first = {"conf_changed": True, "daemon": {"changed": True},
             "apply": {"added": [], "updated": [], "removed": [], "started": [], "reaped": []}}
    assert agent.actions(first) == ["wrote supervisord.conf (the process plan changed)",
                                    "started supervisord (it was not running)"]
    same = {"conf_changed": False, "prometheus": {"changed": False}, "router": {"changed": False, "removed": []},
            "daemon": {"changed": False}, "apply": {"added": [], "updated": [], "removed": [], "started": [],
                                                   "reaped": []}, "router_restarted": False}
    assert agent.actions(same) == []
