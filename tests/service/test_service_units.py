"""The service's parts on their own: job store recovery, limits, metrics text, field pointers."""

from __future__ import annotations

import json
import time

import pytest

from optimiser.errors import Problem
from optimiser.service.errors import ApiError, problem_field
from optimiser.service.limits import Limiter
from optimiser.service.metrics import Metrics
from optimiser.service.store import JobStore
from optimiser.service.tasks import canonical, run_task


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The job store on SQLite (the embedded default) and on PostgreSQL (replicas)."""
    if request.param == "sqlite":
        jobs = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    else:
        from sqlalchemy import text

        jobs = JobStore(request.getfixturevalue("postgres_url"))
        with jobs.engine.begin() as conn:  # one cluster for the session: start empty
            conn.execute(text("DELETE FROM jobs"))
    yield jobs
    jobs.close()


def _submit(store: JobStore, owner: str = "alice", key: str | None = None):
    return store.create(owner, "solve", '{"supply": 1}', "hash-1", 10.0, key)


def test_sqlite_store_is_in_wal_mode(store):
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_claim_finish_and_owner_isolation(store):
    job, created = _submit(store)
    assert created and job.status == "queued"
    claimed = store.claim_next("server-1", 30)
    assert claimed is not None and claimed.id == job.id and claimed.status == "running"
    assert claimed.attempts == 1
    assert store.claim_next("server-2", 30) is None  # nothing else queued
    assert store.finish(job.id, "server-2", "done", "{}", None) is False  # not its job
    assert store.finish(job.id, "server-1", "done", '{"ok": 1}', None) is True
    assert store.get(job.id, "alice").result == '{"ok": 1}'
    assert store.get(job.id, "bob") is None


def test_idempotency_key_returns_the_same_job(store):
    first, created = _submit(store, key="k")
    again, created_again = _submit(store, key="k")
    other_owner, created_other = _submit(store, owner="bob", key="k")
    assert created and not created_again and created_other
    assert first.id == again.id != other_owner.id


def test_a_job_running_when_its_server_died_is_requeued_then_failed(store):
    job, _ = _submit(store)
    for attempt in (1, 2):
        assert store.claim_next("dead-server", 0.01).attempts == attempt
        time.sleep(0.02)  # the lease expires: nobody renews it
        assert store.recover(max_attempts=3) == (1, 0)
        again = store.get(job.id, "alice")
        assert again.status == "queued" and "re-queued" in again.note
    store.claim_next("dead-server", 0.01)
    time.sleep(0.02)
    assert store.recover(max_attempts=3) == (0, 1)  # third loss: failed, with the reason
    failed = store.get(job.id, "alice")
    assert failed.status == "failed"
    error = json.loads(failed.error)
    assert error["code"] == "server_lost" and "3 times" in error["message"]


def test_a_live_lease_is_not_recovered_but_everything_is_at_startup(store):
    job, _ = _submit(store)
    store.claim_next("live-server", 60)
    assert store.recover(max_attempts=3) == (0, 0)  # its server is alive
    assert store.recover(max_attempts=3, everything=True) == (1, 0)  # alone on the store
    assert store.get(job.id, "alice").status == "queued"


def test_clean_shutdown_requeues_without_counting_an_attempt(store):
    job, _ = _submit(store)
    store.claim_next("server-1", 60)
    assert store.release_runner("server-1") == 1
    back = store.get(job.id, "alice")
    assert back.status == "queued" and back.attempts == 0


def test_cancel_only_touches_unfinished_jobs(store):
    job, _ = _submit(store)
    assert store.cancel(job.id, "bob") is None  # not bob's job
    assert store.get(job.id, "alice").status == "queued"
    assert store.cancel(job.id, "alice").status == "cancelled"
    assert store.claim_next("server", 30) is None


def test_rate_limit_token_bucket_and_concurrency():
    limiter = Limiter(rate=10, burst=2, concurrent=5)
    limiter.admit("a")
    limiter.admit("a")
    with pytest.raises(ApiError) as rate:
        limiter.admit("a")
    assert rate.value.status == 429 and rate.value.headers["Retry-After"] == "1"
    limiter.admit("b")  # per owner
    time.sleep(0.11)
    limiter.admit("a")  # refilled at 10/s
    tight = Limiter(rate=1000, burst=1000, concurrent=1)
    tight.admit("a")
    with pytest.raises(ApiError) as busy:
        tight.admit("a")
    assert busy.value.code == "too_many_concurrent"
    tight.release("a")
    tight.admit("a")


def test_metrics_text_format():
    metrics = Metrics()
    metrics.requests.labels("GET", "/v1/jobs", "200").inc()
    metrics.requests.labels("GET", "/v1/jobs", "200").inc()
    metrics.latency.labels("GET", "/v1/jobs").observe(0.003)
    metrics.latency.labels("GET", "/v1/jobs").observe(0.2)
    metrics.gauge("triage_queue_depth", "Queued.", lambda: {("jobs",): 3}, ("queue",))
    text = metrics.render()
    assert 'triage_http_requests_total{method="GET",route="/v1/jobs",status="200"} 2.0' in text
    bucket = 'triage_http_request_duration_seconds_bucket{le="%s",method="GET",route="/v1/jobs"}'
    assert bucket % "0.005" + " 1.0" in text
    assert bucket % "0.25" + " 2.0" in text
    assert bucket % "+Inf" + " 2.0" in text
    assert 'triage_http_request_duration_seconds_count{method="GET",route="/v1/jobs"} 2.0' in text
    assert 'triage_queue_depth{queue="jobs"} 3.0' in text
    assert "_created" not in text  # only the documented series
    from prometheus_client.parser import text_string_to_metric_families

    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"triage_http_requests", "triage_http_request_duration_seconds",
            "triage_queue_depth"} <= names  # a Prometheus parser reads it


@pytest.mark.parametrize("problem,field", [
    (Problem("must be > 0, got -5", file="regions", line=2, column="population"),
     "regions[1].population"),
    (Problem("unknown column(s): x", file="regions"), "regions"),
    (Problem("field 'defaults.weight': must be a number"), "defaults.weight"),
    (Problem("constraints[2]: parameter 'share' must be <= 1, got 2"), "constraints[2].share"),
    (Problem("constraints[0]: unknown constraint kind 'x'"), "constraints[0]"),
    (Problem("must be a non-empty list", column="regions"), "regions"),
    (Problem("something general"), None),
])
def test_problems_point_to_json_fields(problem, field):
    assert problem_field(problem) == field


def test_tasks_never_raise_and_equal_requests_have_one_spelling():
    assert canonical({"b": 1, "a": [1, 2]}) == canonical({"a": [1, 2], "b": 1})
    bad = run_task("solve", {"supply": 1, "regions": [{"region": "a"}]})
    assert bad["ok"] is False and bad["error"]["status"] == 422
    unknown = run_task("nope", {})
    assert unknown["ok"] is False and "unknown job kind" in unknown["error"]["message"]


def test_every_setting_is_documented():
    from pathlib import Path

    from optimiser.service.settings import Settings

    doc = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text()
    for name in Settings.model_fields:
        assert f"`TRIAGE_{name.upper()}`" in doc, name
