"""``huizong serve`` for real on loopback, and the WPS add-in's script against it (Node's test runner)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline.problems import HuizongError
from pipeline.serve import make_server

from .conftest import filled
from .mailserver import free_port


@pytest.fixture
def service(ctx):
    for i in range(8):
        (ctx.workspace.inbox / f"{i:02d}.xlsx").write_bytes(filled(ctx, i, births_total="十二") if i == 3 else filled(ctx, i))
    server, svc = make_server(ctx.workspace.root, free_port())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield svc
    server.shutdown()
    server.server_close()


def call(svc, method, path, body=None, headers=None, token=True, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
    h = {"Host": host or f"127.0.0.1:{svc.port}"}
    if token:
        h["X-Huizong-Token"] = svc.token if token is True else token
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    res = conn.getresponse()
    raw = res.read()
    conn.close()
    is_json = res.getheader("Content-Type", "").startswith("application/json")
    return res.status, (json.loads(raw or b"{}") if is_json else raw)


def wait(svc, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    seen_progress = False
    while time.monotonic() < deadline:
        status, data = call(svc, "GET", f"/jobs/{job_id}")
        job = data["job"]
        seen_progress |= job["total"] > 0 and job["state"] == "running"
        if job["state"] != "running":
            return job, seen_progress
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_token_host_and_origin_are_checked(service):
    assert call(service, "GET", "/ping", token=False)[0] == 401
    assert call(service, "GET", "/ping", token="guess")[0] == 401
    status, data = call(service, "GET", "/ping", headers={"Origin": "https://evil.example"})
    assert status == 403 and "其他网页" in data["error"]["message"] and data["error"]["code"] == "X014"
    assert call(service, "GET", "/ping", host="attacker.example:80")[0] == 403  # DNS rebinding
    assert call(service, "GET", "/ping", headers={"Origin": f"http://127.0.0.1:{service.port}"})[0] == 200
    assert call(service, "POST", "/collect", body={}, headers={"Origin": "null"})[0] == 403
    assert call(service, "POST", "/format-disk", body={})[0] == 404
    # the add-in's own files are served without a token and hold no secret
    for name in ("", "index.html", "main.js", "ribbon.xml", "js/actions.js", "js/huizong.js"):
        status, raw = call(service, "GET", f"/addin/{name}", token=False)
        assert status == 200, name
        assert service.token.encode() not in raw, name
    assert call(service, "GET", "/addin/js/config.js", token=False)[0] == 404  # the token is in no file any more
    assert call(service, "GET", "/addin/../huizong.yaml", token=False)[0] == 404


def test_the_token_goes_only_to_the_addin_page_of_this_service(service):
    own = f"http://127.0.0.1:{service.port}"
    status, data = call(service, "GET", "/addin/token", token=False, headers={"Referer": own + "/addin/index.html"})
    assert status == 200 and data["token"] == service.token
    assert call(service, "GET", "/addin/token", token=False, headers={"Sec-Fetch-Site": "same-origin", "Origin": own})[1]["token"]
    refused = [
        {"host": "attacker.example:8765"},  # DNS rebinding: the foreign name in Host
        {"host": f"evil.example:{service.port}"},
        {"headers": {"Origin": "https://evil.example"}},
        {"headers": {"Origin": "null"}},
        {"headers": {"Sec-Fetch-Site": "cross-site"}},
        {"headers": {"Sec-Fetch-Site": "same-site"}},
        {"headers": {"Referer": "https://evil.example/page.html"}},
        {"headers": {"Referer": f"http://127.0.0.1:{service.port}.evil.example/"}},
    ]
    for case in refused:
        status, data = call(service, "GET", "/addin/token", token=False, host=case.get("host"), headers=case.get("headers"))
        assert status == 403 and data["error"]["code"] == "X014", case
        assert service.token not in json.dumps(data), case
    # the add-in's other files follow the same rules
    assert call(service, "GET", "/addin/js/huizong.js", token=False, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403


def test_the_addin_entry_is_the_official_main_js(service):
    status, page = call(service, "GET", "/addin/index.html", token=False)
    assert status == 200 and b'src="./main.js"' in page
    status, main = call(service, "GET", "/addin/main.js", token=False)
    assert status == 200
    loaded = re.findall(r"src='([^']+)'", main.decode("utf-8"))
    assert loaded == ["js/actions.js", "js/huizong.js"]
    for src in loaded:
        assert call(service, "GET", "/addin/" + src, token=False)[0] == 200


def test_long_collect_reports_progress_and_a_second_action_is_busy(service):
    status, data = call(service, "POST", "/collect", body={"period": "2026-10"})
    assert status == 202
    busy_status, busy = call(service, "POST", "/consolidate", body={"period": "2026-10"})
    assert busy_status == 409 and busy["busy"] and busy["error"]["code"] == "X003" and "正在运行" in busy["error"]["message"]
    job, seen_progress = wait(service, data["job"]["id"])
    assert job["state"] == "done", job
    assert job["result"]["message"].startswith("已收取 8 份")
    views = {v["sheet"]: v for v in job["result"]["views"]}
    rows = views["上报情况"]["rows"]
    assert {r[2] for r in rows} >= {"已报", "退回", "未报"}
    status, data = call(service, "POST", "/consolidate", body={"period": "2026-10"})
    job, _ = wait(service, data["job"]["id"])
    assert job["state"] == "done" and job["result"]["views"][0]["sheet"] == "排名" and job["result"]["views"][0]["rows"][0][0] == 1


def test_bad_requests_get_clear_json(service):
    status, data = call(service, "POST", "/consolidate", body={"period": "2026-13"})
    job, _ = wait(service, data["job"]["id"])
    assert job["state"] == "failed" and job["error"][0]["code"] == "X005"
    conn = http.client.HTTPConnection("127.0.0.1", service.port)
    conn.request("POST", "/collect", body=b"{not json", headers={"X-Huizong-Token": service.token, "Host": f"127.0.0.1:{service.port}"})
    res = conn.getresponse()
    error = json.loads(res.read())["error"]
    assert res.status == 400 and "JSON" in error["message"] and error["code"] == "X016"
    assert call(service, "GET", "/status?period=2026-10")[1]["status"]["sheet"] == "上报情况"


def test_a_bad_workspace_is_refused_before_listening(tmp_path):
    with pytest.raises(HuizongError) as info:
        make_server(tmp_path, free_port())
    assert info.value.problems[0].code == "X001"


def test_it_listens_on_loopback_only(service):
    assert service.port
    others = [a for a in socket.gethostbyname_ex(socket.gethostname())[2] if not a.startswith("127.")]
    for ip in others:
        with pytest.raises(OSError):
            socket.create_connection((ip, service.port), timeout=1).close()


def test_the_addin_script_with_node_against_the_real_service(service, ctx):
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but node is not installed")
        pytest.skip("node not installed")
    env = dict(os.environ, HUIZONG_TEST_PORT=str(service.port), HUIZONG_TEST_PERIOD="2026-10")
    tests = Path(__file__).resolve().parent / "js"
    proc = subprocess.run([node, "--test", str(tests / "huizong.test.mjs")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout and "# skipped 0" in proc.stdout


@pytest.mark.parametrize("error,code", [(OSError(28, "No space left on device"), "X011"), (ValueError("boom"), "X013")])
def test_an_unexpected_failure_is_said_as_the_other_faces_say_it(service, monkeypatch, error, code):
    """The service said 程序内部错误 for a full disk, where the command and the Excel button say 磁盘已满 (X011):
    every face now asks one helper, and the traceback of an internal error goes to .huizong/serve.log."""
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(type(service), "run", fail)
    status, data = call(service, "POST", "/collect", body={"period": "2026-10"})
    job, _ = wait(service, data["job"]["id"])
    assert job["state"] == "failed" and job["error"][0]["code"] == code
    if code == "X013":
        assert "详情已记入 .huizong/serve.log" in job["error"][0]["message"]
        assert "ValueError: boom" in (service.root / ".huizong" / "serve.log").read_text(encoding="utf-8")
