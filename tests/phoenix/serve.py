"""Run Arize Phoenix with every listener on loopback (run with the Phoenix environment's python).

Phoenix binds its OTLP/gRPC receiver to all interfaces; the tests only need loopback, so the gRPC server
is told to listen on 127.0.0.1 instead. Usage: ``python serve.py`` with PHOENIX_PORT, PHOENIX_GRPC_PORT,
PHOENIX_WORKING_DIR and PHOENIX_HOST=127.0.0.1 in the environment.
"""

from __future__ import annotations

import sys

import grpc.aio

_server = grpc.aio.server


def _loopback_server(*args, **kwargs):  # type: ignore[no-untyped-def]
    server = _server(*args, **kwargs)
    add_insecure, add_secure = server.add_insecure_port, server.add_secure_port
    server.add_insecure_port = lambda address: add_insecure(address.replace("[::]", "127.0.0.1"))
    server.add_secure_port = lambda address, creds: add_secure(address.replace("[::]", "127.0.0.1"), creds)
    return server


grpc.aio.server = _loopback_server

if __name__ == "__main__":
    from phoenix.server.main import main

    sys.argv = ["phoenix", "serve"]
    sys.exit(main())
