"""Thin HTTP routers: parse, call the Service, shape the response."""
