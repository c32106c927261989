"""Start vllm-router from a settings file (run by supervisord with the router venv).

Standalone: imports only the vllm_router package and the standard library. It starts the Rust
router the way the package's own `vllm-router` command does, but without importing that command's
module, which loads the package's Python debugging balancer (FastAPI, aiohttp): 0.35 CPU-seconds
spent while the engines start beside it (deploy starts everything at once on a small machine).

Why not `vllm-router ARGS` directly: the API key would sit on the process
list, and the worker list would be part of supervisord's command line, so
adding an engine would restart the router. Here the command line is constant;
the settings file (mode 0600) holds the arguments, the workers and the key.
Deploy adds or removes workers on the running router through its
/add_worker and /remove_worker endpoints and rewrites the file for restarts.

Usage: python router_launcher.py SETTINGS.json
"""

from __future__ import annotations

import json
import sys


def router_argv(settings: dict) -> list[str]:
    """The vllm-router arguments from the settings file (no secrets)."""
    argv = list(settings["args"])
    if settings.get("workers") and not settings.get("worker_models"):
        argv += ["--worker-urls", *settings["workers"]]
    return argv


def router_base(settings: dict) -> str:
    args = settings["args"]
    host, port = args[args.index("--host") + 1], args[args.index("--port") + 1]
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"


def register_workers(settings: dict, timeout: float = 900.0) -> list[str]:
    """Several models (the router's --enable-igw mode, which ignores --worker-urls): add each worker
    with its model once the router listens. Returns the URLs registered."""
    import time
    import urllib.error
    import urllib.request

    base = router_base(settings)
    done: list[str] = []
    deadline = time.monotonic() + timeout
    for url, model in settings["worker_models"].items():
        body = json.dumps({"url": url, "model_id": model}).encode()
        while time.monotonic() < deadline:  # an engine that is still starting would be marked unhealthy
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        while True:
            request = urllib.request.Request(base + "/workers", data=body, method="POST",
                                             headers={"content-type": "application/json"})
            if settings.get("api_key"):
                request.add_header("Authorization", f"Bearer {settings['api_key']}")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                done.append(url)
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    print(f"router_launcher: could not register {url} ({model}) with the router", file=sys.stderr)
                    break
                time.sleep(0.3)
    return done


def register_in_background(settings: dict) -> None:
    """Fork a child that registers the workers while this process becomes the router."""
    import os

    if os.fork() == 0:
        code = 0
        try:
            register_workers(settings)
        except Exception as exc:  # noqa: BLE001  (a child must always exit, never return into the router)
            print(f"router_launcher: registering workers failed: {exc}", file=sys.stderr)
            code = 1
        finally:
            os._exit(code)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as fh:
        settings = json.load(fh)
    import argparse

    from vllm_router.router import Router
    from vllm_router.router_args import RouterArgs

    parser = argparse.ArgumentParser(prog="vllm-router")
    RouterArgs.add_cli_args(parser, use_router_prefix=False)
    router_args = RouterArgs.from_cli_args(parser.parse_args(router_argv(settings)), use_router_prefix=False)
    if settings.get("api_key"):
        router_args.api_key = settings["api_key"]
    router_args._validate_router_args()  # what vllm-router checks before it starts
    if settings.get("worker_models"):
        register_in_background(settings)
    try:
        import setproctitle  # a dependency of vllm-router: the process list shows vllm::router
    except ImportError:
        pass
    else:
        setproctitle.setproctitle("vllm::router")
    Router.from_args(router_args).start()  # blocks until the router stops
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
