"""The solver service: the regional triage engine over HTTP (FastAPI + uvicorn).

    triage serve [--host 127.0.0.1] [--port 8000] [--data-dir DIR] [--workers N]
                 [--dask-scheduler tcp://HOST:PORT] [--database URL]

Modules: settings (TRIAGE_* variables), schemas (request/response bodies), auth (hashed
tokens), limits (rate and concurrency per token), store (jobs in SQLAlchemy), tasks (the work,
calling the engine), workers (warm process pool or Dask), core (the Service), routers (thin
HTTP layer), metrics (Prometheus text), middleware, errors (JSON errors). See docs/service.md.
"""

from optimiser.service.app import create_app
from optimiser.service.settings import Settings

__all__ = ["Settings", "create_app"]
