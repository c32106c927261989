"""The contracts between the plans and the playbooks: what each plan holds, as typed dicts.

A plan is computed in Python (``local/plan.py`` through the filter plugin, ``kubernetes/plan.py``
through ``vllm-workflow k8s-plan``) and read by the roles as ``vllm_local_plan.<key>`` and
``vllm_k8s_plan.<key>``. These types declare every key; ``tests/test_plan_contract.py`` holds real
plans equal to them and fails when a playbook reads a path they do not declare, so renaming a key
fails in the unit tests rather than at deploy time. A leaf: it imports nothing of ours.
"""

from typing import Any, NotRequired, TypedDict


class RuntimePaths(TypedDict):
    """Where a stack lives on its host (``supervision.paths``): runtimes and helpers shared by every
    stack on the host, state, logs and the supervisor the stack's own."""

    root: str
    home: str
    bin: str
    logs: str
    state: str
    models: str
    venv_engine: str
    venv_router: str
    venv_supervisor: str
    supervisord_conf: str
    supervisor_socket: str
    supervisord_pid: str
    router_settings: str
    prometheus_conf: str
    prometheus_data: str
    agent: str
    run: str
    router_launcher: str
    model_builder: str
    kv_relay: str


class Endpoint(TypedDict):
    url: str
    metrics_url: str


class EngineEndpoint(Endpoint):
    name: str
    model: NotRequired[str]  # the model it serves (several behind one router)
    instances: NotRequired[int]  # engines behind the URL (a Kubernetes Service)


class StackDescription(TypedDict):
    """What deploy records for every later phase (``stack.Stack`` reads it); the head comes from
    ``stack.description_head``, the rest from each backend's plan."""

    schema_version: int
    backend: str
    arm: str | None
    host: str
    model: str
    routing: str
    router_policy: str | None
    session_header: str
    api_url: str
    api_key_required: bool
    router: Endpoint | None
    engines: list[EngineEndpoint]
    prometheus_url: str | None
    process_manager: dict[str, Any]
    runtime_dir: str
    logs_dir: str
    models: NotRequired[list[str]]  # local: every served model, the first first
    target: NotRequired[dict[str, Any]]  # local: the inventory host, connection and machine
    engines_service_url: NotRequired[str]  # Kubernetes: the engines' Service
    grafana: NotRequired[dict[str, Any] | None]  # Kubernetes: where Grafana is and how it was provisioned
    kubernetes: NotRequired[dict[str, Any]]  # Kubernetes: namespace, release, services, ports, forwards


# -- the local backend ----------------------------------------------------------------------------

class ModelPlan(TypedDict):
    """The first model: where it is, and whether deploy builds it (a built-in preset)."""

    source: str
    location: str
    preset: str
    max_position: int
    build: bool


class RouterSettings(TypedDict):
    """The router launcher's settings file (router.json)."""

    args: list[str]
    workers: list[str]
    api_key: str
    worker_models: NotRequired[dict[str, str]]  # several models: worker URL -> its model


class PrometheusPlan(TypedDict):
    config: str
    conf: str
    data: str
    package: str
    packages: list[str]
    install: bool
    promtool: str
    become: bool


class UpPrometheus(TypedDict):
    config: str
    conf: str
    data: str
    promtool: str


class UpPlan(TypedDict):
    """What the supervisor agent's one apply step needs (``vllm_common/supervisor_up``)."""

    supervisord_conf: str
    router_settings: RouterSettings | None
    prometheus: UpPrometheus | None


class LocalPlan(TypedDict):
    runtimes: list[dict[str, Any]]
    install: bool
    errors: list[str]
    paths: RuntimePaths
    helpers_to_copy: list[str]
    helper_dirs: dict[str, str]  # each helper to copy -> its folder under src/vllm_workflow
    create_dirs: bool
    model: ModelPlan
    model_builds: list[dict[str, Any]]
    programs: list[str]
    supervisord_conf: str
    router_settings: RouterSettings | None
    prometheus: PrometheusPlan | None
    up: UpPlan
    stack: StackDescription


# -- the Kubernetes backend -----------------------------------------------------------------------

class K8sPaths(RuntimePaths):
    venv: str
    python: str
    kubectl: str
    helm: str
    minikube: str
    pod_forward: str
    values: str
    tools_root: str


class Cluster(TypedDict):
    kubeconfig: str
    context: str


class MinikubePlan(TypedDict):
    profile: str
    start: list[str]
    status: list[str]
    profile_config: str
    stop: list[str]
    delete: list[str]
    on_teardown: str


class HelmPlan(TypedDict):
    release: str
    namespace: str
    repo_name: str
    repo_url: str
    chart_ref: str
    chart_version: str
    timeout: str
    atomic: bool


class KedaPlan(TypedDict):
    repo_name: str
    repo_url: str
    chart: str
    version: str
    release: str
    namespace: str
    crd: str
    archive: str
    sha256: str
    folder: str


class SecretKeys(TypedDict):
    hf_token: str
    api_key: str


class K8sPlan(TypedDict):
    errors: list[str]
    paths: K8sPaths
    cluster: Cluster
    downloads: list[dict[str, Any]]
    minikube: MinikubePlan | None
    supervisor_spec: str
    kubernetes_spec: str
    helm: HelmPlan
    values_yaml: str
    keda: KedaPlan | None
    dashboard: dict[str, Any] | None
    values_name: str
    namespace: dict[str, Any]
    secret: dict[str, Any]
    secret_keys: SecretKeys
    gpu: str
    nvidia_smi: list[str]
    programs: list[str]
    forwards: list[str]
    supervisord_conf: str
    stack: StackDescription
