"""The pages over HTTP: what /, /status, /status/<view>, /status/index.json and the static files answer, with
their headers (ETag and 304, Cache-Control, gzip, the security headers), their weight, path traversal, the
--www directory mode, the samples and groups the views read, and the built-in copy being current."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, assert_problem, wait_until

WWW = REPO_ROOT / "www"
GZIP = {"Accept-Encoding": "gzip"}


def page_paths(client) -> list[str]:
    """Every path a browser loads for every page: the pages, and every file under www/static/."""
    views = [view["name"] for view in client.get("/status/index.json").json()["views"]]
    static = sorted("/" + p.relative_to(WWW).as_posix() for p in (WWW / "static").rglob("*") if p.is_file())
    return ["/", "/status", "/status/index.json", "/favicon.ico"] + [f"/status/{v}" for v in views] + static


def test_embedded_assets_are_current():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "embed-www.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"run `make assets`: {result.stderr}"


def test_pages_answer_with_types_and_security_headers(client):
    expected = {"/": "text/html", "/status": "text/html", "/status/task-stream": "text/html",
                "/status/index.json": "application/json", "/static/app.js": "text/javascript",
                "/static/style.css": "text/css", "/favicon.ico": "image/svg+xml"}
    for path, content_type in expected.items():
        response = client.get(path)
        assert response.status == 200, (path, response)
        assert response.content_type.startswith(content_type), (path, response.content_type)
        csp = response.header("Content-Security-Policy")
        assert csp and "frame-ancestors 'self'" in csp and "script-src 'self'" in csp, csp
        assert "unsafe-inline" not in csp and "http" not in csp, csp
        assert response.header("X-Content-Type-Options") == "nosniff"
        assert response.header("Cache-Control") == "no-cache"
        assert re.fullmatch(r'"[0-9a-f]+"', response.header("ETag") or ""), response.header("ETag")
    for view in client.get("/status/index.json").json()["views"]:
        assert client.get(f"/status/{view['name']}").status == 200, view


def test_html_has_no_inline_script_and_only_relative_urls(client):
    for path in ["/", "/status", "/status/cpu"]:
        html = client.get(path).body.decode()
        for script in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S):
            assert script.strip() == "", f"inline script in {path}"
        for url in re.findall(r'(?:src|href)="([^"]*)"', html):
            assert not re.match(r"^(/|[a-z]+:)", url), f"{path} links {url}: relative URLs only"
    for path in (WWW / "static").rglob("*.js"):
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, f"{path} names another host"
        assert not re.search(r"""fetch\(\s*['"`]/""", text), f"{path} fetches an absolute path"


def test_etag_revalidation_answers_304(client):
    for headers in ({}, GZIP):
        first = client.get("/static/app.js", headers=headers)
        etag = first.header("ETag")
        again = client.get("/static/app.js", headers={**headers, "If-None-Match": etag})
        assert again.status == 304 and again.body == b"", again
        assert again.header("ETag") == etag
        weak = client.get("/static/app.js", headers={**headers, "If-None-Match": f'"nope", W/{etag}'})
        assert weak.status == 304
        other = client.get("/static/app.js", headers={**headers, "If-None-Match": '"other"'})
        assert other.status == 200 and other.body
    assert client.get("/", headers=GZIP).header("ETag") != client.get("/").header("ETag")


def test_gzip_is_served_and_decodes_to_the_file(client):
    plain = client.get("/static/lib/feed.js")
    packed = client.get("/static/lib/feed.js", headers=GZIP)
    assert packed.header("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in (packed.header("Vary") or "")
    assert gzip.decompress(packed.body) == plain.body == (WWW / "static" / "lib" / "feed.js").read_bytes()
    refused = client.get("/static/lib/feed.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert refused.header("Content-Encoding") is None and refused.body == plain.body


def test_all_pages_together_weigh_under_100_kb_gzipped(client):
    total = 0
    for path in page_paths(client):
        response = client.get(path, headers=GZIP)
        assert response.status == 200, (path, response)
        total += len(response.body) if response.header("Content-Encoding") == "gzip" else len(gzip.compress(response.body))
    print(f"all pages and their files: {total} bytes gzipped")
    assert total < 100 * 1024, total


def test_index_json_lists_every_view(client):
    views = client.get("/status/index.json").json()["views"]
    names = [view["name"] for view in views]
    assert names == ["task-stream", "progress", "workers", "cpu", "workers-memory", "cluster-memory", "nprocessing",
                     "occupancy", "exceptions", "workers-cpu-timeseries", "workers-memory-timeseries",
                     "scheduler-system", "compute-time-per-key", "aggregate-time-per-action", "groups",
                     "bandwidth-workers", "memory-by-key"]
    for view in views:
        assert view["title"] and view["description"]
        assert (WWW / "static" / "views" / f"{view['name']}.js").is_file()


@pytest.mark.parametrize("path", ["/static/../index.html", "/static/%2e%2e/index.html", "/static/lib/..%2f..%2fMakefile",
                                  "/static/.hidden", "/static//app.js", "/static/lib/%00api.js", "/status/nope",
                                  "/status/../Makefile", "/../../etc/passwd", "/index.html", "/www/index.html"])
def test_paths_outside_the_pages_are_404(client, path):
    assert_problem(client.get(path), 404, "not-found")


def test_pages_refuse_other_methods(client):
    response = client.post("/", {"n": 1})
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.header("Allow")
    head = client.request("HEAD", "/status")
    assert head.status == 200 and head.body == b""


def test_www_directory_is_served_instead(fibd_factory, tmp_path):
    www = tmp_path / "www"
    shutil.copytree(WWW, www)
    (www / "index.html").write_text("<!doctype html><title>dev</title>development copy\n")
    daemon = fibd_factory("--workers", "1", "--www", str(www))
    client = daemon.client
    first = client.get("/")
    assert first.status == 200 and b"development copy" in first.body
    assert first.header("Content-Security-Policy") and first.header("ETag")
    assert client.get("/", headers={"If-None-Match": first.header("ETag")}).status == 304
    (www / "index.html").write_text("<!doctype html><title>dev</title>edited\n")
    assert b"edited" in client.get("/").body, "the directory is read on every request"
    assert client.get("/static/app.js").body == (WWW / "static" / "app.js").read_bytes()
    (tmp_path / "secret.txt").write_text("secret")
    assert_problem(client.get("/static/../../secret.txt"), 404, "not-found")


def test_samples_long_poll_and_groups(client):
    first = client.get("/api/v1/samples").json()
    assert first["samples"], first
    sample = first["samples"][-1]
    assert set(sample["daemon"]) >= {"cpu_seconds", "rss_bytes", "open_fds", "connections", "long_polls",
                                     "loop_lag_seconds"}
    assert sample["daemon"]["open_fds"] > 0 and sample["daemon"]["rss_bytes"] > 0
    assert sample["workers"] and "cpu_seconds" in sample["workers"][0]
    # The next sample comes within about a second of the last, and not sooner.
    later = client.get(f"/api/v1/samples?after={first['next']}&wait=5").json()
    assert [s["seq"] for s in later["samples"]] == [first["next"] + 1], later
    assert later["next"] == first["next"] + 1
    client.submit({"n": 1234, "algorithm": "fast"}, wait="10")
    groups = {g["name"]: g for g in client.get("/api/v1/groups").json()["groups"]}
    group = groups["fast/1e3"]
    assert group["done"] >= 1 and group["computations"] >= 1 and group["cached_bytes"] >= 258, group
    assert set(group["seconds"]) == {"queued", "computing", "encoding", "sending"}
