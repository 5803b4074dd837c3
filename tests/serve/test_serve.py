"""`star serve` over real HTTP (uvicorn on loopback): pages, the JSON API, escaping, limits and auth."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from db.readonly import open_readonly
from star.cli import cli, register_commands
from star.serve.app import create_app

register_commands()
HOSTILE_RUN = "<script>alert('run')</script>"
ONERROR = '<img src=x onerror="alert(1)">'
TOKEN = "s3cret-token-for-tests-0123456789"


class Markup(HTMLParser):
    """Tags with their attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Markup:
    page = Markup()
    page.feed(html)
    return page


def get(server, path: str, **params) -> httpx.Response:
    return httpx.get(server.url + path, params=params, timeout=60, follow_redirects=False)


def star_json(store: str, *args: str) -> object:
    result = CliRunner().invoke(cli, [*args, "--json", "--db", store], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_api_answers_what_the_cli_prints(server, store) -> None:
    pairs = [
        ("/api/runs", {}, ["runs"]),
        ("/api/rounds", {"run": "demo"}, ["rounds", "demo"]),
        ("/api/rationales", {"run": "demo", "round": 2, "limit": 5}, ["rationales", "demo", "--round", "2", "--limit", "5"]),
        ("/api/rationales", {"run": "demo", "search": "quokka"}, ["rationales", "demo", "--search", "quokka"]),
        ("/api/attempts/3", {}, ["show", "3"]),
        ("/api/problem", {"run": "demo", "id": "p1"}, ["problem", "demo", "p1"]),
        ("/api/flips", {"run": "demo"}, ["flips", "demo"]),
        ("/api/compare", {"a": "demo", "b": HOSTILE_RUN, "split": "train"},
         ["compare", "demo", HOSTILE_RUN, "--split", "train"]),
    ]
    for path, params, args in pairs:
        response = get(server, path, **params)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == star_json(store, *args), path


def test_each_page_shows_its_data(server) -> None:
    runs = get(server, "/").text
    assert "demo" in runs and "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;" in runs
    run = parse(get(server, "/run", run="demo").text)
    assert sum(1 for tag, _ in run.tags if tag == "tr") == 1 + 4  # header and rounds 0-3
    assert [a["src"] for tag, a in run.tags if tag == "img"] == [
        f"/plot?run=demo&name={name}" for name in ("accuracy", "accepted", "timings")]
    png = get(server, "/plot", run="demo", name="accuracy")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    story = get(server, "/problem", run="demo", id="p1").text
    assert story.count('class="round"') == 3
    assert "round 1</a>: unsolved" in story and "round 2</a>: hint-only" in story and "round 3</a>: solved" in story
    flips = get(server, "/flips", run="demo").text
    assert 'split=train&amp;flip=unsolved_to_solved">unsolved → solved</a></td><td>2</td>' in flips
    assert "p1</a>" in flips and "p3</a>" in flips
    search = get(server, "/search", run="demo", q="quokka").text
    assert "the quokka carries the one" in search and search.count('class="result"') == 1
    pair = get(server, "/problem/rounds", run="demo", id="p1", a="1", b="3").text
    assert "Round 1: <span" in pair and "Round 3: <span" in pair
    assert "5 attempted by both: 3 solved by both, 2 by neither" in " ".join(
        get(server, "/compare", a="demo", b="demo", split="train").text.split())
    assert "Prompt the model saw" in get(server, "/attempt", id="1").text


def test_model_output_is_text_everywhere(server) -> None:
    hostile = get(server, "/search", run=HOSTILE_RUN, q="quokka")
    attempt_id = next(a["id"] for a in get(server, "/api/rationales", run=HOSTILE_RUN).json())
    pages = [get(server, "/"), get(server, "/run", run=HOSTILE_RUN), hostile,
             get(server, "/problem", run=HOSTILE_RUN, id=f"{ONERROR}/1"), get(server, "/attempt", id=attempt_id),
             get(server, "/flips", run=HOSTILE_RUN), get(server, "/compare", a="demo", b=HOSTILE_RUN)]
    for response in pages:
        assert response.status_code == 200, response.text
        page = parse(response.text)
        assert "script" not in {tag for tag, _ in page.tags}, response.url
        assert not [a for _, attrs in page.tags for a in attrs if a.lower().startswith("on")], response.url
        assert all(attrs.get("src", "").startswith("/plot?") for tag, attrs in page.tags if tag == "img")
        assert all((attrs.get("href") or "/").startswith(("/", "data:")) for _, attrs in page.tags)
    text = "".join(parse(hostile.text).text)
    assert "<script>alert('completion')</script>" in text and ONERROR in text  # shown, as text
    assert "default-src 'none'" in hostile.headers["content-security-policy"]


def test_every_list_is_a_capped_page(server) -> None:
    for path, params in [("/api/rationales", {"run": "demo", "limit": 201}), ("/api/flips", {"run": "demo", "limit": 500}),
                         ("/api/problem", {"run": "demo", "id": "p1", "rounds": 51}), ("/api/runs", {"limit": 1000})]:
        response = get(server, path, **params)
        assert response.status_code == 400 and "less than or equal" in response.json()["error"], path
    first = get(server, "/api/rationales", run="demo", limit=3).json()
    after = get(server, "/api/rationales", run="demo", limit=3, after=first[-1]["id"]).json()
    assert len(first) == len(after) == 3 and after[0]["id"] > first[-1]["id"]
    bad = get(server, "/search", run="demo", q="quokka", round="two")
    assert bad.status_code == 400 and "round must be a whole number, got &#39;two&#39;" in bad.text
    missing = get(server, "/api/rounds", run="nope")
    assert missing.status_code == 400 and "no run named 'nope'" in missing.json()["error"]


def test_loopback_needs_no_token_and_other_clients_are_refused(server, store) -> None:
    assert get(server, "/api/runs").status_code == 200
    engine = open_readonly(store)
    try:
        app = create_app(engine, token=None, label="test")
        # The same application as a client elsewhere on the network would reach it (through a proxy,
        # say): Starlette's test client lets the request come from any address.
        with TestClient(app, client=("203.0.113.7", 4321)) as remote:
            refused = remote.get("/api/runs")
        assert refused.status_code == 403 and "--token" in refused.text
    finally:
        engine.dispose()


def test_a_token_is_checked_on_every_request(serve) -> None:
    guarded = serve(token=TOKEN)
    assert get(guarded, "/api/runs").status_code == 401
    wrong = httpx.get(guarded.url + "/api/runs", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
    assert wrong.status_code == 401
    assert httpx.get(guarded.url + "/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert httpx.get(guarded.url + "/", cookies={"star_token": "nope"}).status_code == 401
    login = get(guarded, "/run", run="demo", token=TOKEN)
    assert login.status_code == 303 and login.headers["location"] == "/run?run=demo"
    assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=strict" in login.headers["set-cookie"]
    assert httpx.get(guarded.url + "/run?run=demo", cookies={"star_token": TOKEN}).status_code == 200


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], "--host 0.0.0.0 would open the store to the network without a token"),
    (["--host", "0.0.0.0", "--token", "short"], "--token must be at least 16 characters"),
])
def test_star_serve_refuses_an_unsafe_bind(store, args, message) -> None:
    result = CliRunner().invoke(cli, ["serve", *args, "--db", store], env={"STAR_SERVE_TOKEN": None})
    assert result.exit_code == 2 and message in result.stderr


def test_the_static_report_links_to_the_run_in_the_web_view(server, store, tmp_path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "demo", "--db", store, "--out", str(out), "--samples", "0",
                                      "--serve-url", server.url + "/"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    links = [a["href"] for tag, a in parse((out / "index.html").read_text()).tags if tag == "a" and "href" in a]
    served = [href for href in links if href.startswith(server.url)]
    assert served == [f"{server.url}/run?run=demo"]
    assert httpx.get(served[0]).status_code == 200
