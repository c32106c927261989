"""The release's cluster, read (and its pods deleted) through the pinned kubernetes client.

Status lists the pods, the scale workload samples the Deployments, the fault workload deletes an
engine's pod and reads the pod events — all in the release's namespace, with the kubeconfig and
context the deploy used (from the stack description). A list comes back as the API server's own
JSON (the same document ``kubectl get -o json`` prints), so the parsers read one shape. Nothing
here raises for an unreachable or refusing cluster: the caller gets the reason to show.
"""

from __future__ import annotations

import json
from typing import Any

from ..stack import Stack

#: What can be listed: the API group's class and its namespaced list call.
LISTS = {"pods": ("CoreV1Api", "list_namespaced_pod"), "events": ("CoreV1Api", "list_namespaced_event"),
         "deployments": ("AppsV1Api", "list_namespaced_deployment")}


def _failures() -> tuple[type[BaseException], ...]:
    """What a list or delete can meet that is the cluster's or the kubeconfig's doing, not ours: the
    API's refusal, an unusable kubeconfig, the connection (urllib3), a file, a body that is not JSON."""
    import urllib3.exceptions
    from kubernetes.client.exceptions import OpenApiException
    from kubernetes.config.config_exception import ConfigException

    return OpenApiException, ConfigException, urllib3.exceptions.HTTPError, OSError, ValueError


class Cluster:
    def __init__(self, stack: Stack) -> None:
        k = stack.kubernetes
        self.kubeconfig = str(k.get("kubeconfig") or "") or None
        self.context = str(k.get("context") or "") or None
        self.namespace = str(k.get("namespace") or "default")
        self._client: Any = None  # one API client (kubeconfig read once, connections reused) per Cluster

    def _api(self, group: str) -> Any:
        from kubernetes import client, config

        if self._client is None:
            self._client = config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
            self._client.configuration.retries = False  # a refused connection is said at once, not retried
        return getattr(client, group)(self._client)

    def list(self, kind: str, timeout: float = 10.0, **query: Any) -> tuple[dict[str, Any] | None, str]:
        """``kind`` (pods, events, deployments) in the namespace: (the API's JSON, "") or (None, why)."""
        group, call = LISTS[kind]
        try:
            response = getattr(self._api(group), call)(self.namespace, _preload_content=False,
                                                       _request_timeout=timeout, **query)
            return json.loads(response.data), ""
        except _failures() as exc:  # shown; none ends status or a run
            return None, self.reason(exc, f"list {kind}")

    def delete_pod(self, name: str, timeout: float = 30.0) -> str:
        """Delete ``name`` at once (no grace period, as a crash): "" or why it failed."""
        try:
            self._api("CoreV1Api").delete_namespaced_pod(name, self.namespace, grace_period_seconds=0,
                                                         _preload_content=False, _request_timeout=timeout)
            return ""
        except _failures() as exc:  # the caller names the pod and stops the run
            return self.reason(exc, f"delete pod {name}")

    def reason(self, exc: Exception, what: str) -> str:
        """One line: the API's refusal (status and message), the connection's failure, or the
        kubeconfig's problem."""
        status = getattr(exc, "status", None)
        if status:  # kubernetes.client.ApiException
            try:
                message = json.loads(getattr(exc, "body", "") or "{}").get("message") or exc.reason
            except ValueError:
                message = getattr(exc, "reason", "")
            return f"the cluster refused to {what} in namespace {self.namespace}: {status} {message}"
        cause = getattr(exc, "reason", None) or exc  # urllib3's MaxRetryError carries the cause
        text = str(cause).rsplit(": ", 1)[-1].rstrip("')\"") if "Errno" in str(cause) else str(cause)
        where = f"kubeconfig {self.kubeconfig or '~/.kube/config'}, context {self.context or '(current)'}"
        return f"cannot {what} ({where}): {text or type(exc).__name__}"
