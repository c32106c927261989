"""Relay each engine's KV-cache events from its ipc:// socket to a TCP port on 127.0.0.1.

vLLM publishes KV-cache events (BlockStored, BlockRemoved) on a ZMQ PUB socket that it binds only on
a wildcard TCP address (every interface) or an ipc:// path; vllm-router's kv_aware policy
subscribes only to tcp://HOST:PORT. The engines publish on ipc:// sockets in the runtime's private
run directory, and this process forwards each to tcp://127.0.0.1:PORT, so the events (they carry
the prompts' token ids) never leave the host. Subscriptions travel back the same way (XPUB/XSUB).

Usage: kv_relay.py ipc:///RUN/kv-events-engine-0.sock=tcp://127.0.0.1:PORT [...]

Standalone: runs under the engines' virtualenv (pyzmq is a dependency of vLLM), supervised like
every program of the stack.
"""

from __future__ import annotations

import sys
import threading


def parse(args: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for arg in args:
        source, sep, target = arg.partition("=")
        if not sep or not source.startswith("ipc://") or not target.startswith("tcp://127.0.0.1:"):
            raise ValueError(f"not SOURCE=TARGET (ipc://... = tcp://127.0.0.1:PORT): {arg}")
        pairs.append((source, target))
    return pairs


def main(argv: list[str]) -> int:
    try:
        pairs = parse(argv[1:])
    except ValueError as exc:
        print(f"{exc}\n\n{__doc__}", file=sys.stderr)
        return 2
    if not pairs:
        print(__doc__, file=sys.stderr)
        return 2
    import zmq

    ctx = zmq.Context()
    sockets = []
    for source, target in pairs:  # bind every port first: a port in use stops the relay with its name
        xsub, xpub = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
        xsub.connect(source)  # the engine binds it; ZMQ reconnects until it does
        try:
            xpub.bind(target)
        except zmq.ZMQError as exc:
            print(f"cannot listen on {target}: {exc}", file=sys.stderr)
            return 1
        sockets.append((xsub, xpub))
        print(f"relaying {source} -> {target}", flush=True)
    threads = [threading.Thread(target=zmq.proxy, args=pair, daemon=True) for pair in sockets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
