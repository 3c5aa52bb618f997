"""uvicorn's h11 protocol with a header read timeout (uvicorn has none).

A connection must deliver a request's complete header block within TRIAGE_HEADER_TIMEOUT
seconds of opening (or, on a kept-alive connection, of the first byte of the next request);
otherwise it is answered 408 and closed. Without it, clients holding partial headers keep
their connections (and file descriptors) open for ever. The body's own timeout is applied by
ServiceMiddleware, which reads the whole body before the request takes a concurrency slot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def _timeout_body(seconds: float) -> bytes:
    message = f"request headers not received within {seconds:g} s (TRIAGE_HEADER_TIMEOUT)"
    return (
        b'{"error":{"status":408,"code":"header_timeout","message":"'
        + message.encode()
        + b'"}}'
    )


class TimedH11Protocol(H11Protocol):
    """H11Protocol that closes connections whose request headers are late."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._header_timer is None:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the header block is complete

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is still being written: that request had its headers
        body = _timeout_body(self.header_timeout)
        self.transport.write(TIMEOUT_RESPONSE % (len(body), body))
        self.transport.close()


def protocol_with(header_timeout: float) -> type[TimedH11Protocol]:
    """A protocol class for uvicorn.Config(http=...) with this header timeout."""
    return type("TriageH11Protocol", (TimedH11Protocol,), {"header_timeout": header_timeout})
