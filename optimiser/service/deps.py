"""What a route needs from its request: the Service and the authenticated caller.

Plain functions, not FastAPI dependencies: authentication and limits are applied by
ServiceMiddleware before the body is read, and each FastAPI dependency costs time per request.
"""

from __future__ import annotations

from fastapi import Request

from optimiser.service.auth import Principal
from optimiser.service.core import Service
from optimiser.service.middleware import principal_of

__all__ = ["caller", "service_of"]


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def caller(request: Request) -> Principal:
    return principal_of(request)
