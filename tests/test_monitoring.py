"""/metrics (Prometheus) and /healthz, read the way a scraper and a load balancer read them."""

from __future__ import annotations

import json
import os
import signal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from facerec import engine
from facerec.extensions import db

from .conftest import CLIP, login_client
from .servers import wait_for


def scrape(client, **kwargs) -> dict:
    """``{(sample name, frozenset(labels)): value}`` of one /metrics answer."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_is_anonymous_metrics_refused(anon_client):
    response = anon_client.get("/metrics")
    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert "facerec_" not in response.get_data(as_text=True)


def test_is_a_browser_opening_metrics_sent_to_sign_in(anon_client):
    response = anon_client.get("/metrics", headers={"Accept": "text/html"})
    assert response.status_code == 302 and response.location.startswith("/login")


def test_can_anyone_read_metrics_made_public(app_factory):
    app = app_factory(FACEREC_METRICS_PUBLIC=True)
    samples = scrape(app.test_client())
    assert ("facerec_camera_running", frozenset({("camera", "main")})) in samples


def test_does_an_api_token_open_metrics_and_a_revoked_one_not(app):
    from facerec.auth.accounts import create_token, revoke_token

    with app.app_context():
        row, token = create_token("prometheus")
        db.session.commit()
        row_id = row.id
    client = app.test_client()
    assert scrape(client, headers={"Authorization": f"Bearer {token}"})
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    with app.app_context():
        from facerec.models import ApiToken

        revoke_token(db.session.get(ApiToken, row_id))
        db.session.commit()
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# What Prometheus 2.42 sends when it scrapes (scrape.go's scrapeAcceptHeader).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def media_type(value: str) -> tuple[str, dict]:
    """A Content-Type read as strictly as Go's mime.ParseMediaType (which Prometheus uses):
    every parameter is name=value and no name comes twice."""
    kind, *parts = [part.strip() for part in value.split(";")]
    params = {}
    for part in parts:
        name, sep, val = part.partition("=")
        assert sep and name and val, f"malformed parameter {part!r} in {value!r}"
        assert name.lower() not in params, f"duplicate parameter {name!r} in {value!r}"
        params[name.lower()] = val
    return kind.lower(), params


@pytest.mark.parametrize("accept", [None, "text/plain", PROMETHEUS_ACCEPT])
def test_does_metrics_send_one_content_type_that_a_scraper_parses(app_factory, serve, accept):
    import http.client
    import urllib.parse

    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )

    app = app_factory(FACEREC_METRICS_PUBLIC=True)
    url = urllib.parse.urlsplit(serve(app).url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/metrics", headers={"Accept": accept} if accept else {})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 200
    (content_type,) = [v for k, v in response.getheaders() if k.lower() == "content-type"]
    kind, params = media_type(content_type)
    assert params["charset"] == "utf-8"
    if accept == PROMETHEUS_ACCEPT:
        assert kind == "application/openmetrics-text"
        families = {f.name: f for f in openmetrics_families(body)}
    else:
        assert kind == "text/plain" and params["version"] == "0.0.4"
        families = {f.name: f for f in text_string_to_metric_families(body)}
    assert families["facerec_camera_running"].type == "gauge"
    assert families["facerec_events_published"].type == "counter"


def test_does_promtool_find_nothing_wrong_in_the_metrics(app_factory, tmp_path):
    """Prometheus's own checker (Debian's prometheus package; `make test` installs it)."""
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (make prometheus)"
    app = app_factory(FACEREC_METRICS_PUBLIC=True)
    client = app.test_client()
    client.get("/readyz")  # a request of each kind, so labelled series exist
    client.get("/api/v1/stream/status")
    text = client.get("/metrics").get_data(as_text=True)
    assert "facerec_http_requests_total{" in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""  # not even a lint warning


def test_do_metrics_count_track_events_the_history_could_not_take(app, monkeypatch):
    """A full sightings queue drops track events rather than hold up capture: counted."""
    import queue

    writer = app.extensions["sightings"]
    client = login_client(app, app.test_client())
    assert value(scrape(client), "facerec_sightings_dropped_total") == 0
    monkeypatch.setattr(writer.worker, "start", lambda: None)  # a writer that fell behind
    monkeypatch.setattr(writer, "queue", queue.Queue(2))
    taken = [writer.put("main", object()) for _ in range(5)]
    assert taken == [True, True, False, False, False]
    samples = scrape(client)
    assert value(samples, "facerec_sightings_dropped_total") == 3
    assert value(samples, "facerec_sightings_written_total") == 0
    assert value(samples, "facerec_sightings_failed_total") == 0


def test_do_the_metrics_move_while_the_clip_plays(clip_app, enroll_known):
    enroll_known(clip_app)
    client = login_client(clip_app, clip_app.test_client())
    cam = clip_app.extensions["cameras"].first()
    client.post("/api/v1/stream/start")
    assert wait_for(lambda: cam.feed is not None and cam.feed.latency.count >= 3, timeout=60)
    before = scrape(client)
    main = {"camera": "main"}
    count = "facerec_recognition_latency_seconds_count"
    dropped = "facerec_recognizer_dropped_frames_total"

    # Each moves when the event it counts happens (not at a rate: the machine may be busy).
    def moved():
        now = scrape(client)
        return (
            value(now, count, **main) > value(before, count, **main)
            and value(now, dropped, **main) > value(before, dropped, **main)
            and value(now, "facerec_sightings_written_total") > 0  # the faces became history
            and now
        )

    after = wait_for(moved, timeout=90, interval=0.5)
    assert after, "the recognition, dropped-frame and sightings counters did not move"
    assert value(after, "facerec_camera_running", **main) == 1
    assert value(after, "facerec_camera_source_fps", **main) == pytest.approx(29.97, abs=0.1)
    # Rates themselves are benchmarks (bench/stream.py); here they only have to be live.
    assert value(after, "facerec_camera_output_fps", **main) > 0
    assert value(after, "facerec_camera_recognition_rate", **main) > 0
    assert value(after, "facerec_recognition_latency_seconds_sum", **main) > 0
    # The latency buckets are cumulative and end with every observation in +Inf.
    inf = value(after, "facerec_recognition_latency_seconds_bucket", le="+Inf", **main)
    assert inf == value(after, count, **main)
    # Requests are counted by endpoint and status, with their latency.
    scrapes = "facerec_http_requests_total"
    labels = {"endpoint": "monitoring.metrics", "method": "GET", "status": "200"}
    assert value(after, scrapes, **labels) >= value(before, scrapes, **labels) + 1
    last = scrape(client)
    assert value(last, scrapes, **labels) == value(after, scrapes, **labels) + 1
    started = {"endpoint": "api.stream_start", "method": "POST", "status": "200"}
    assert value(after, scrapes, **started) == 1
    timing = "facerec_http_request_duration_seconds_count"
    assert value(after, timing, endpoint="api.stream_start", method="POST") == 1


def health(client, path="/readyz"):
    """The health+json answer of ``path``, checked for its media type and its status code."""
    response = client.get(path)
    assert response.headers["Content-Type"] == "application/health+json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json if response.is_json else json.loads(response.get_data(as_text=True))
    assert body["status"] in ("pass", "warn", "fail")
    assert response.status_code == (503 if body["status"] == "fail" else 200)
    return body


def test_is_the_service_ready_while_the_clip_plays(clip_app):
    clip_app.extensions["cameras"].first().start()
    client = clip_app.test_client()  # anonymous
    cam = clip_app.extensions["cameras"].first()
    assert wait_for(lambda: cam.feed is not None and cam.feed.latency.count >= 1)
    body = health(client)
    # Restarts count over the process's face engine (shared by every app of the test run).
    (restarts,) = body["checks"].pop("recognizer:restarts")
    assert restarts["status"] == "pass" and restarts["observedValue"] >= 0
    assert body == {
        "status": "pass",
        "checks": {
            "database": [{"status": "pass", "componentType": "datastore"}],
            "recognizer": [
                {"status": "pass", "componentType": "component", "observedValue": "running"}
            ],
            "camera": [
                {
                    "status": "pass",
                    "componentType": "component",
                    "componentId": "main",
                    "observedValue": "running",
                }
            ],
            "webhooks": [{"status": "pass", "componentType": "system", "observedValue": 0}],
            "notifications": [{"status": "pass", "componentType": "system", "observedValue": 0}],
        },
    }
    again = health(client, "/healthz")  # the old name is the same check
    again["checks"].pop("recognizer:restarts")
    assert again == body


def test_is_a_stopped_camera_with_its_file_present_ready(clip_app):
    body = health(clip_app.test_client())
    assert body["status"] == "pass"
    (main,) = body["checks"]["camera"]
    assert (main["componentId"], main["status"], main["observedValue"]) == (
        "main",
        "pass",
        "stopped",
    )
    assert body["checks"]["recognizer"][0]["observedValue"] == "idle"


@pytest.mark.parametrize("running", [False, True])
def test_is_the_service_unready_when_the_camera_source_is_missing(app_factory, tmp_path, running):
    app = app_factory(FACEREC_CAMERA=str(tmp_path / "gone.mp4"))
    if running:
        cam = app.extensions["cameras"].first()
        cam.start()
        assert wait_for(lambda: cam.state == "unavailable", 10)
    client = app.test_client()
    body = health(client)
    assert body["status"] == "fail"
    (main,) = body["checks"]["camera"]
    assert main["status"] == "fail" and main["output"]
    assert body["checks"]["database"] == [{"status": "pass", "componentType": "datastore"}]
    assert "gone.mp4" not in json.dumps(body)  # no paths to anonymous callers
    assert health(client, "/livez")["status"] == "pass"  # alive all the same: no restart


def test_does_health_name_nobody(clip_app, enroll_known):
    enroll_known(clip_app)
    text = clip_app.test_client().get("/readyz").get_data(as_text=True).lower()
    for name in ("obama", "biden", "lin-manuel", "alex"):
        assert name not in text
    assert str(CLIP.name).lower() not in text


def test_does_health_count_a_restarted_recognition_worker(clip_app):
    cam = clip_app.extensions["cameras"].first()
    cam.start()
    assert wait_for(lambda: cam.feed is not None and cam.feed.latency.count >= 1)
    client = clip_app.test_client()
    before = health(client)["checks"]["recognizer:restarts"][0]["observedValue"]
    pool = engine.of(clip_app)
    os.kill(pool.pids()[0], signal.SIGKILL)
    assert wait_for(lambda: pool.restarts > before, 20)
    assert wait_for(lambda: client.get("/readyz").status_code == 200, 30)
    assert health(client)["checks"]["recognizer:restarts"][0]["observedValue"] >= before + 1


def test_is_the_process_alive_while_the_database_is_down(tmp_path):
    """Liveness asks nothing outside the process: a database that does not answer (here a
    PostgreSQL URL where nothing listens) fails readiness, never liveness."""
    from facerec import create_app, shutdown
    from facerec.config import TestConfig

    from .servers import free_port

    config = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x"
    app = create_app(config)
    try:
        client = app.test_client()
        alive = health(client, "/livez")
        assert alive["status"] == "pass"
        (uptime,) = alive["checks"]["uptime"]
        assert uptime["observedUnit"] == "s" and uptime["observedValue"] >= 0
        ready = health(client)
        assert ready["status"] == "fail"
        assert ready["checks"]["database"] == [
            {
                "status": "fail",
                "componentType": "datastore",
                "output": "the database does not answer",
            }
        ]
    finally:
        shutdown(app)


def test_does_livez_answer_only_get_and_head(app):
    client = app.test_client()
    assert client.head("/livez").status_code == 200
    response = client.post("/livez")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"


def docs_block(language: str, containing: str) -> str:
    """The one ```language block of docs/integrations/monitoring.md holding ``containing``."""
    import re

    from .conftest import ROOT

    text = (ROOT / "docs" / "integrations" / "monitoring.md").read_text()
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", text, re.S) if containing in b]
    assert len(blocks) == 1, f"the page should hold one {language} block with {containing}"
    return blocks[0]


def test_do_the_documented_probes_pass_on_a_ready_server_and_only_readiness_on_a_broken_one(
    app_factory, serve, tmp_path
):
    """The Docker HEALTHCHECK command and the Kubernetes probes, as a user copies them."""
    import subprocess
    import urllib.error
    import urllib.request

    import yaml

    dockerfile = docs_block("dockerfile", "HEALTHCHECK")
    command = dockerfile.split(" CMD ", 1)[1].strip()
    probes = yaml.safe_load(docs_block("yaml", "livenessProbe"))

    def status(url):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            with exc:  # an error answer holds its connection until closed
                return exc.code

    ready = serve(app_factory(FACEREC_CAMERA=str(CLIP))).url
    broken = serve(app_factory(FACEREC_CAMERA=str(tmp_path / "gone.mp4"))).url
    for base, ready_status in ((ready, 200), (broken, 503)):
        port = base.rsplit(":", 1)[1]
        docker = subprocess.run(
            ["sh", "-c", command.replace(":8000", f":{port}")], capture_output=True, timeout=30
        )
        assert docker.returncode == 0, docker.stderr  # alive: no restart
        live, readiness = probes["livenessProbe"]["httpGet"], probes["readinessProbe"]["httpGet"]
        assert live["port"] == readiness["port"] == 8000
        assert status(base + live["path"]) == 200
        assert status(base + readiness["path"]) == ready_status
