"""Our Ansible actions (playbooks/action_plugins), run by real Ansible against this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import serving

ROOT = Path(__file__).resolve().parents[1]

# Reads the payload on stdin, answers JSON; says whether the payload's secret is on its command line.
ECHO = ("import json, sys; p = json.load(sys.stdin); argv = open('/proc/self/cmdline').read(); "
        "print(json.dumps({'changed': p['change'], 'got': p, 'secret_on_cmdline': p['secret'] in argv}))")


def play(tmp_path: Path, tasks: list[dict], extra: dict | None = None) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Run our actions", "hosts": "localhost", "gather_facts": False,
                                         "vars": extra or {}, "tasks": tasks}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_vllm_agent_sends_the_payload_on_stdin_and_reports_the_answer(tmp_path: Path) -> None:
    """The payload reaches the helper on stdin (not its command line), its JSON answer comes back as
    `answer`, its `changed` is the task's; a helper that fails or answers no JSON fails the task
    with the helper's name and its last lines."""
    tasks = [
        {"name": "Echo", "vllm_agent": {"argv": [sys.executable, "-c", ECHO],
                                        "stdin": {"change": True, "secret": "s3cr3t-value", "n": 3}},
         "register": "echo"},
        {"name": "Echo unchanged", "vllm_agent": {"argv": [sys.executable, "-c", ECHO],
                                                  "stdin": {"change": False, "secret": "x"}}, "register": "same"},
        {"name": "Show", "ansible.builtin.debug": {"msg": "ANSWER {{ echo.answer | to_json }} {{ same.changed }}"}},
        {"name": "Fail", "vllm_agent": {"argv": [sys.executable, "-c",
                                                 "import sys; sys.stderr.write('broken thing\\n'); sys.exit(3)"]},
         "ignore_errors": True},
        {"name": "No JSON", "vllm_agent": {"argv": [sys.executable, "-c", "print('hello')"]}, "ignore_errors": True},
    ]
    run = play(tmp_path, tasks)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    line = next(x for x in out.splitlines() if "ANSWER " in x)
    answer_text, same_changed = line.split("ANSWER ", 1)[1].rstrip('",').rsplit(" ", 1)
    answer = json.loads(answer_text.replace('\\"', '"'))
    assert answer == {"changed": True, "got": {"change": True, "secret": "s3cr3t-value", "n": 3},
                      "secret_on_cmdline": False}
    assert same_changed == "False"
    assert "ok=5" in out and "changed=1" in out and "ignored=2" in out  # only Echo changed
    assert "-c exited with 3: broken thing" in out
    assert "-c did not answer JSON on stdout" in out


@pytest.mark.slow
def test_vllm_agent_failure_under_no_log_is_said_with_secrets_redacted(tmp_path: Path) -> None:
    """no_log hides a failed task's whole result; the action still says the helper's last line,
    with the values of the secret settings replaced by ***."""
    fail = ("import sys; sys.stderr.write('Traceback ...\\nSystemExit: supervisord did not start with key '"
            " + sys.argv[1] + '; see /x/supervisord.log\\n'); sys.exit(1)")
    run = play(tmp_path, [{"name": "Apply the plan", "vllm_agent": {"argv": [sys.executable, "-c", fail, "{{ vllm_api_key }}"]},
                           "no_log": True}],
               {"vllm_secret_names": ["vllm_hf_token", "vllm_api_key"], "vllm_api_key": "sk-very-secret",
                "vllm_hf_token": ""})
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Apply the plan: -c exited with 1: SystemExit: supervisord did not start with key ***; see /x/supervisord.log" in out
    assert "sk-very-secret" not in out and "censored" in out
    assert "-c exited with 1 (its output is hidden: no_log; its last line is above)" in out


@pytest.mark.slow
def test_vllm_finish_deploy_records_the_stack_and_shows_each_line(tmp_path: Path) -> None:
    """The controller step through Ansible: the stack is recorded, the wait's lines are shown as it
    runs, the task is changed the first time only; an engine that never answers fails the task."""

    task = {"name": "Finish", "vllm_finish_deploy": {"host": "{{ inventory_hostname }}", "stack": "{{ stack }}",
                                                      "root": str(tmp_path), "state_dir": str(tmp_path / "state"),
                                                      "timeout": 5}}
    with serving() as url:
        stack = {"host": "localhost", "backend": "local", "model": "m", "routing": "roundrobin", "api_url": url,
                 "router": {"url": url, "metrics_url": url + "/metrics"},
                 "engines": [{"name": "engine-0", "url": url, "metrics_url": url + "/metrics"}]}
        first, second = (play(tmp_path, [task], {"stack": stack}) for _ in range(2))
        assert first.returncode == 0 and second.returncode == 0, first.stdout + first.stderr
        assert "📝 stack description recorded" in first.stdout and "changed=1" in first.stdout
        assert "✅ all engines and routers healthy after" in first.stdout and "engine-0 " in first.stdout
        assert "changed=0" in second.stdout and "📝" not in second.stdout
        assert json.loads((tmp_path / "state/stacks/localhost.json").read_text()) == stack
        dead = dict(stack, engines=[{"name": "engine-1", "url": "http://127.0.0.1:9", "metrics_url": ""}])
        failed = play(tmp_path, [dict(task, vllm_finish_deploy=dict(task["vllm_finish_deploy"], timeout=0.3))],
                      {"stack": dead})
        assert failed.returncode != 0
        assert "❌ localhost/engine-1 not healthy after 0.3 s" in failed.stdout and "failed=1" in failed.stdout


@pytest.mark.slow
def test_the_kubernetes_plan_filter_plans_in_ansibles_process_and_keeps_braces_literal(tmp_path: Path,
                                                                                       vars_for) -> None:
    """`vllm_k8s_plan` (playbooks/filter_plugins) is the plan the role keeps with set_fact: the same
    document `vllm-workflow k8s-plan` prints, and the Grafana legends in it ("{{engine}}") stay text
    in later tasks instead of being templated."""
    from vllm_workflow.kubernetes.plan import plan_from_input

    data = {"vars": vars_for("vllm-production-stack-cpu"), "facts": {"home": "/home/u"}}
    expected = plan_from_input(data)
    assert "{{" in json.dumps(expected["dashboard"])  # what must survive
    (tmp_path / "input.json").write_text(json.dumps(data))
    tasks = [
        {"name": "Plan", "ansible.builtin.set_fact": {
            "vllm_k8s_plan": "{{ lookup('ansible.builtin.file', input_file) | from_json | vllm_k8s_plan }}"}},
        {"name": "Use it", "ansible.builtin.copy": {"content": "{{ vllm_k8s_plan | to_json }}",
                                                    "dest": str(tmp_path / "kept.json")}},
        {"name": "Bad input", "ansible.builtin.set_fact": {"broken": "{{ {'vars': {}} | vllm_k8s_plan }}"},
         "ignore_errors": True},
    ]
    run = play(tmp_path, tasks, {"input_file": str(tmp_path / "input.json")})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert json.loads((tmp_path / "kept.json").read_text()) == json.loads(json.dumps(expected))
    assert "vllm_k8s_plan needs {'vars': ..., 'facts': ...}" in out or "k8s-plan: incomplete input" in out


@pytest.mark.slow
def test_the_kubernetes_gates_stop_the_play_with_their_lines(tmp_path: Path) -> None:
    """`vllm_k8s_gate` (the role's GPU, capacity and Minikube gates, in Ansible's process): [] lets the
    play go on; a failing gate's headline and problems become the `fail` task's message."""
    tasks = [
        {"name": "CPU needs no GPU", "ansible.builtin.set_fact": {"cpu": "{{ {'device': 'cpu'} | vllm_k8s_gate('gpu') }}"}},
        {"name": "No nvidia-smi", "ansible.builtin.set_fact": {
            "cuda": "{{ {'device': 'cuda', 'nvidia_smi': {'rc': none, 'stdout': '', 'stderr': 'No such file'}}"
                    " | vllm_k8s_gate('gpu') }}"}},
        {"name": "Release", "ansible.builtin.set_fact": {
            "release": "{{ {'status': none, 'release': 'vllm', 'namespace': 'ns'} | vllm_k8s_release }}"}},
        {"name": "Show", "ansible.builtin.debug": {
            "msg": "GATES {{ cpu | length }} {{ cuda[0] }} RELEASE {{ release.action }} {{ release.error is none }}"}},
        {"name": "Stop", "ansible.builtin.fail": {"msg": "{{ cuda }}"}, "when": "cuda | length > 0",
         "ignore_errors": True},
        {"name": "Unknown gate", "ansible.builtin.set_fact": {"x": "{{ {} | vllm_k8s_gate('nope') }}"},
         "ignore_errors": True},
    ]
    run = play(tmp_path, tasks)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    shown = next(line for line in out.splitlines() if "GATES " in line and "{{" not in line)
    assert "GATES 0 GPU check failed; nothing was deployed: RELEASE install True" in shown, shown
    assert "vllm_k8s_gate: no gate 'nope' (one of gpu, capacity, minikube)" in out
    assert "ignored=2" in out


@pytest.mark.slow
def test_a_failed_release_stops_with_each_pod_and_its_fix(tmp_path: Path) -> None:
    """`vllm_k8s_diagnosis` (the rescue of the Helm install, in Ansible's process): helm's error, then
    each pod that is not ready with why and the fix, as the `fail` task's message."""
    pod = {"metadata": {"name": "vllm-opt-deployment-vllm-1", "labels": {"app.kubernetes.io/component": "serving-engine"}},
           "status": {"phase": "Pending", "containerStatuses": [
               {"name": "vllm", "ready": False, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]}}
    tasks = [{"name": "Stop with why", "ansible.builtin.fail": {
        "msg": "{{ {'pods': pods, 'error': 'context deadline exceeded'} | vllm_k8s_diagnosis }}"}, "ignore_errors": True}]
    run = play(tmp_path, tasks, {"pods": [pod]})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "The release did not become ready (context deadline exceeded). Why:" in out
    assert "serving-engine pod vllm-opt-deployment-vllm-1: image" in out and "ignored=1" in out


@pytest.mark.slow
def test_the_quick_test_phase_runs_in_ansibles_process_and_leaves_its_verdict(tmp_path: Path) -> None:
    """`vllm_quick_test` (the quick-test phase of `make vllm`): each check shown, the task failed when
    one failed, the JUnit report written and the verdict (1) left for scripts/make-verdict; with
    nothing deployed, the fix."""
    from tests.helpers import stub_project, stub_stack

    project = stub_project(tmp_path / "p", {"vllm_api_key": ""},
                           {"lab1": stub_stack("http://127.0.0.1:9", "lab1", "m")})  # nothing answers there
    verdict = tmp_path / "verdict"
    tasks = [{"name": "Quick test", "vllm_quick_test": {"root": str(project),
                                                         "state_dir": str(project / "workflows/vllm/state")},
              "ignore_errors": True},
             {"name": "Nothing deployed", "vllm_quick_test": {"root": str(project), "state_dir": str(tmp_path / "none")},
              "ignore_errors": True}]
    os.environ["VLLM_WORKFLOW_EXIT_FILE"] = str(verdict)
    try:
        run = play(tmp_path, tasks)
    finally:
        del os.environ["VLLM_WORKFLOW_EXIT_FILE"]
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "Quick test of lab1 (test-double backend, model m):" in out
    assert out.count("❌ api (http://127.0.0.1:9)") == 5 and "0 passed, 5 failed" in out
    assert "The quick test failed (5 check(s)); see the lines above." in out
    assert (project / "workflows/vllm/reports/quick-test.xml").is_file()
    assert verdict.read_text() == "1\n"
    assert "nothing is deployed" in out.lower() or "make vllm-deploy" in out
    assert "ignored=2" in out
