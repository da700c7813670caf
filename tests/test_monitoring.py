"""/metrics (Prometheus) and /healthz, read the way a scraper and a load balancer read them."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

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


def test_do_metrics_count_track_events_the_history_could_not_take(app, monkeypatch):
    """A full sightings queue drops track events rather than hold up capture: counted."""
    import queue

    writer = app.extensions["sightings"]
    client = login_client(app, app.test_client())
    assert value(scrape(client), "facerec_sightings_dropped_total") == 0
    monkeypatch.setattr(writer, "_ensure_thread", lambda: None)  # a writer that fell behind
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
    assert wait_for(lambda: cam.recognizer is not None and cam.recognizer.latency.count >= 3)
    before = scrape(client)
    time.sleep(3)
    after = scrape(client)
    main = {"camera": "main"}
    assert value(after, "facerec_camera_running", **main) == 1
    assert value(after, "facerec_camera_source_fps", **main) == pytest.approx(29.97, abs=0.1)
    # Rates themselves are benchmarks (bench/stream.py); here they only have to be live.
    assert value(after, "facerec_camera_output_fps", **main) > 0
    assert value(after, "facerec_camera_recognition_rate", **main) > 0
    count = "facerec_recognition_latency_seconds_count"
    assert value(after, count, **main) > value(before, count, **main)
    assert value(after, "facerec_recognition_latency_seconds_sum", **main) > 0
    assert value(after, "facerec_sightings_written_total") > 0  # the clip's faces became history
    dropped = "facerec_recognizer_dropped_frames_total"
    assert value(after, dropped, **main) > value(before, dropped, **main)
    # The latency buckets are cumulative and end with every observation in +Inf.
    inf = value(after, "facerec_recognition_latency_seconds_bucket", le="+Inf", **main)
    assert inf == value(after, count, **main)
    # Requests are counted by endpoint and status, with their latency.
    scrapes = "facerec_http_requests_total"
    labels = {"endpoint": "monitoring.metrics", "method": "GET", "status": "200"}
    assert value(after, scrapes, **labels) == value(before, scrapes, **labels) + 1
    started = {"endpoint": "api.stream_start", "method": "POST", "status": "200"}
    assert value(after, scrapes, **started) == 1
    timing = "facerec_http_request_duration_seconds_count"
    assert value(after, timing, endpoint="api.stream_start", method="POST") == 1


def test_is_the_service_healthy_while_the_clip_plays(clip_app):
    clip_app.extensions["cameras"].first().start()
    client = clip_app.test_client()  # anonymous
    cam = clip_app.extensions["cameras"].first()
    assert wait_for(lambda: cam.recognizer is not None and cam.recognizer.latency.count >= 1)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "recognizer": {"status": "ok", "state": "running", "restarts": 0},
            "cameras": {"main": {"status": "ok", "state": "running"}},
        },
    }


def test_is_a_stopped_camera_with_its_file_present_healthy(clip_app):
    response = clip_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["cameras"]["main"] == {"status": "ok", "state": "stopped"}
    assert response.json["checks"]["recognizer"]["state"] == "idle"


@pytest.mark.parametrize("running", [False, True])
def test_is_the_service_degraded_when_the_camera_source_is_missing(app_factory, tmp_path, running):
    app = app_factory(FACEREC_CAMERA=str(tmp_path / "gone.mp4"))
    if running:
        cam = app.extensions["cameras"].first()
        cam.start()
        assert wait_for(lambda: cam.state == "unavailable", 10)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "degraded"
    assert body["checks"]["cameras"]["main"]["status"] == "failing"
    assert body["checks"]["database"] == {"status": "ok"}
    assert "gone.mp4" not in response.get_data(as_text=True)  # no paths to anonymous callers


def test_does_health_name_nobody(clip_app, enroll_known):
    enroll_known(clip_app)
    text = clip_app.test_client().get("/healthz").get_data(as_text=True).lower()
    for name in ("obama", "biden", "lin-manuel", "alex"):
        assert name not in text
    assert str(CLIP.name).lower() not in text


def test_does_health_count_a_restarted_recognition_worker(clip_app):
    cam = clip_app.extensions["cameras"].first()
    cam.start()
    assert wait_for(lambda: cam.recognizer is not None and cam.recognizer.latency.count >= 1)
    pool = cam.recognizer.pool
    pool._workers[0].process.kill()
    assert wait_for(lambda: pool.restarts >= 1, 20)
    assert wait_for(lambda: clip_app.test_client().get("/healthz").status_code == 200, 30)
    assert clip_app.test_client().get("/healthz").json["checks"]["recognizer"]["restarts"] >= 1
