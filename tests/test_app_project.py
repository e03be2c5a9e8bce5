"""A user's own app, as the README says to make one: ``inpage new``, ``inpage add``, an edit of
``pages/index.html``, ``inpage build``; then served by a static server that sends no special headers
(``python -m http.server``), under a sub-path of another site. The service worker makes the page
cross-origin isolated after one reload, onnxruntime-web runs on threads, and the answers are native's."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

import makers
from conftest import PageSession, free_port, run
from inpage import load_model


def inpage(*args, cwd, check=True):
    result = subprocess.run([sys.executable, "-m", "inpage_tools", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def png(colour, size=(16, 12)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``inpage new myapp``, a model added, the page edited, and the site built with and without the demo pages."""
    root = tmp_path_factory.mktemp("apps")
    made = inpage("new", "myapp", cwd=root)
    assert "inpage add" in made.stdout and "inpage serve" in made.stdout
    folder = root / "myapp"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        "README.md", "pages/index.html", "pages/app.js", "pages/app.css", "pages/elements.html", "python/README.md"}
    assert (folder / "models").is_dir()
    model = makers.classifier(tmp_path_factory.mktemp("made") / "colours.onnx", softmax=True)
    # Hostile labels: shown as text, never markup, on the app's page.
    labels = folder.parent / "labels.txt"
    labels.write_text("<img src=x onerror=window.pwned=1>\n<script>window.pwned=2</script>\n<b>bold</b>\n&amp;\n")
    inpage("add", model, "--labels", labels, "--mean", "0", "--std", "255", "--units", "0-255", "--resize", "stretch", cwd=folder)
    inpage("add", makers.yolo_v8(folder.parent / "yolo.onnx", names=["<b>cat</b>", "dog", "bird"]), "--name", "boxes", cwd=folder)
    page = folder / "pages" / "index.html"
    page.write_text(page.read_text().replace("<h1>myapp</h1>", "<h1>myapp</h1>\n  <p id='mine'>edited by its author</p>"))
    # A pure-Python wheel from PyPI, pinned in python/requirements.txt, used by a page-side module.
    (folder / "python" / "requirements.txt").write_text("# what the page's Python needs beyond Pyodide's own\npython-dateutil==2.9.0.post0\n")
    (folder / "python" / "dates.py").write_text(
        "from dateutil import parser\n\n\ndef when(text):\n    return parser.parse(text).isoformat()\n")
    (folder / "pages" / "about").mkdir()
    (folder / "pages" / "about" / "index.html").write_text("<!doctype html><title>About</title><p>about us</p>")
    inpage("build", "--out", "site", cwd=folder)
    inpage("build", "--out", "bare", "--no-demo", cwd=folder)
    return folder


def test_a_new_project_runs_the_demo_models_until_it_has_its_own(tmp_path):
    from conftest import SAMPLES

    inpage("new", "fresh", cwd=tmp_path)
    result = inpage("estimate-pose", SAMPLES / "astronaut.png", "--json", cwd=tmp_path / "fresh")
    assert json.loads(result.stdout)["model"] == "movenet-lightning"
    result = inpage("segment", SAMPLES / "missing.png", cwd=tmp_path / "fresh", check=False)
    assert result.returncode == 1 and result.stderr.strip() == f"inpage: no such file: {SAMPLES / 'missing.png'}"


def test_requirements_must_be_pinned(tmp_path):
    inpage("new", "loose", cwd=tmp_path)
    (tmp_path / "loose" / "python" / "requirements.txt").write_text("python-dateutil\n")
    result = inpage("build", "--out", "site", cwd=tmp_path / "loose", check=False)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "python/requirements.txt, line 1: 'python-dateutil' is not name==version" in result.stderr


def test_new_refuses_a_folder_in_use_and_a_name_that_is_markup(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = inpage("new", "taken", cwd=tmp_path, check=False)
    assert result.returncode == 1 and result.stderr.startswith("inpage: ") and "not empty" in result.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    result = inpage("new", "<b>x", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "not a usable project name" in result.stderr and len(result.stderr.splitlines()) == 1
    # A name with a slash in it is a path; the message quotes what was typed, not its last part ('b>').
    result = inpage("new", "<b>x</b>", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr == "inpage: '<b>x</b>' is not a usable project name; use letters, digits, '-', '_' or '.'\n"


def test_new_inside_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("mine")
    result = inpage("new", "afile/sub", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr == "inpage: cannot make the project folder afile/sub: afile is a file; pick another place for it\n"
    assert (tmp_path / "afile").read_text() == "mine"


OUTSIDE_ADVICE = "which the build reads; build the site into a folder of its own, outside pages/, models/ and python/, e.g. --out site"


@pytest.mark.parametrize("out, refusal", [
    ("pages/site", "--out pages/site is inside the project's pages/"),
    ("pages", "--out pages is the project's pages/"),
    (".", "--out . is the project folder"),
    ("", "--out . is the project folder"),
    ("models", "--out models is the project's models/"),
    ("python/site", "--out python/site is inside the project's python/"),
    ("..", "--out .. holds the project folder"),
    ("alias/site", "--out alias/site is inside the project's pages/"),  # through a link to pages/
])
def test_the_site_is_not_built_among_the_projects_sources(tmp_path, out, refusal):
    # Inside pages/ each build would copy the last site into itself; in the project folder, models/
    # or python/ the site would publish them.
    inpage("new", "app", cwd=tmp_path)
    project = tmp_path / "app"
    (project / "alias").symlink_to("pages")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = inpage("build", "--out", out, cwd=project, check=False)
    assert result.returncode == 1 and result.stderr == f"inpage: {refusal}, {OUTSIDE_ADVICE}\n"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("out, refusal", [
    ("afile", "--out afile is a file, not a folder; pass a folder, new or one a build made, e.g. --out site"),
    ("pages/index.html", "--out pages/index.html is a file, not a folder; pass a folder, new or one a build made, e.g. --out site"),
    ("afile/x", "cannot create the output folder afile/x: afile is a file; pass a folder you can write to, e.g. --out site"),
    ("/proc/nope", "cannot create the output folder /proc/nope: no such file or directory; pass a folder you can write to, e.g. --out site"),
])
def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, out, refusal):
    inpage("new", "app", cwd=tmp_path)
    (tmp_path / "app" / "afile").write_text("mine")
    result = inpage("build", "--out", out, cwd=tmp_path / "app", check=False)
    assert result.returncode == 1 and result.stderr == f"inpage: {refusal}\n"
    assert (tmp_path / "app" / "afile").read_text() == "mine"


def test_a_page_named_like_a_file_the_build_writes_is_refused(tmp_path):
    inpage("new", "app", cwd=tmp_path)
    (tmp_path / "app" / "pages" / "assets.json").write_text("{}")
    result = inpage("build", "--out", "site", cwd=tmp_path / "app", check=False)
    assert result.returncode == 1
    assert result.stderr == "inpage: pages/assets.json would replace a file the build writes; rename it or move it out of pages/\n"


def test_links_in_pages_are_followed_inside_the_project_and_refused_outside(tmp_path):
    inpage("new", "app", cwd=tmp_path)
    project = tmp_path / "app"
    (project / "shared" / "deep").mkdir(parents=True)
    (project / "shared" / "deep" / "a.txt").write_text("shared text")
    (project / "pages" / "shared").symlink_to("../shared")  # a folder
    (project / "pages" / "readme.md").symlink_to("../README.md")  # a file
    inpage("build", cwd=project)  # into the default dist/, inside the project and outside its sources
    assert (project / "dist" / "shared" / "deep" / "a.txt").read_text() == "shared text"
    assert (project / "dist" / "readme.md").read_text() == (project / "README.md").read_text()
    assert {"shared/deep/a.txt", "readme.md"} <= set(json.loads((project / "dist" / "assets.json").read_text())["files"])
    # A link out of the project would publish a file nobody put in it.
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the site")
    (project / "pages" / "secret.txt").symlink_to(secret)
    result = inpage("build", cwd=project, check=False)
    assert result.returncode == 1 and result.stderr == (
        f"inpage: pages/secret.txt is a link to {secret}, outside the project; copy what it links to into the project "
        "if it belongs in the site, or remove the link\n")
    assert not (project / "dist" / "secret.txt").exists()
    (project / "pages" / "secret.txt").unlink()
    (project / "pages" / "site").symlink_to("../dist")
    result = inpage("build", cwd=project, check=False)
    assert result.stderr == "inpage: pages/site leads to the output folder dist, which each build would copy into itself; remove the link\n"


def test_a_rebuild_removes_the_folders_a_removed_page_leaves_empty(tmp_path):
    inpage("new", "app", cwd=tmp_path)
    project = tmp_path / "app"
    (project / "pages" / "sub" / "deeper").mkdir(parents=True)
    (project / "pages" / "sub" / "deeper" / "x.html").write_text("<p>" + "words " * 1000)  # large: .br and .gz copies too
    (project / "pages" / "sub" / "kept.html").write_text("<p>kept")
    inpage("build", "--out", "site", cwd=project)
    assert (project / "site" / "sub" / "deeper" / "x.html.gz").is_file()
    shutil.rmtree(project / "pages" / "sub" / "deeper")
    inpage("build", "--out", "site", cwd=project)
    assert not (project / "site" / "sub" / "deeper").exists() and (project / "site" / "sub" / "kept.html").is_file()
    (project / "pages" / "sub" / "kept.html").unlink()
    inpage("build", "--out", "site", cwd=project)
    assert not (project / "site" / "sub").exists() and (project / "site" / "index.html").is_file()


def test_the_projects_pages_are_the_site_and_win_over_the_demo(app):
    site, bare = app / "site", app / "bare"
    assert "edited by its author" in (site / "index.html").read_text()  # the project's index.html, not the webcam demo
    assert (site / "about" / "index.html").is_file() and (site / "app.js").is_file()
    assert (site / "classify.html").is_file()  # the demo pages stay beside it, unless --no-demo
    assert not (bare / "classify.html").exists() and not (bare / "samples").exists() and not (bare / "js" / "webcam-page.js").exists()
    assert (bare / "js" / "inpage.js").is_file() and (bare / "app.js").is_file()
    files = json.loads((bare / "assets.json").read_text())["files"]
    assert "app.js" in files and "about/index.html" in files and "classify.html" not in files
    assert "Cross-Origin-Embedder-Policy: require-corp" in (site / "_headers").read_text()
    # A page may not replace the runtime every page needs.
    (app / "pages" / "js").mkdir()
    (app / "pages" / "js" / "inpage.js").write_text("// mine")
    try:
        result = inpage("build", "--out", "broken", cwd=app, check=False)
        assert result.returncode == 1 and "pages/js/inpage.js would replace inpage's own js/inpage.js" in result.stderr
    finally:
        shutil.rmtree(app / "pages" / "js")


@pytest.fixture(scope="module")
def static_server(app, tmp_path_factory):
    """``python -m http.server`` (no COOP/COEP headers) serving the built site under /apps/myapp/."""
    root = tmp_path_factory.mktemp("host")
    shutil.copytree(app / "bare", root / "apps" / "myapp")
    shutil.copytree(app / "site", root / "apps" / "full")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/apps/myapp/"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url) as response:
                assert "cross-origin-embedder-policy" not in {k.lower() for k in response.headers}
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_on_a_plain_static_host_under_a_sub_path_it_gets_threads_after_one_reload(static_server, browser, app):
    session = PageSession(browser, static_server)
    try:
        page = session.page
        navigations = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
        page.goto(static_server)
        page.wait_for_function("window.crossOriginIsolated === true && window.inpage !== undefined", timeout=60_000)
        page.evaluate("inpage.ready")
        assert page.evaluate("crossOriginIsolated") is True
        assert len(navigations) == 2, navigations  # the first load, and the one reload
        cores = page.evaluate("navigator.hardwareConcurrency")
        assert page.evaluate("inpage.threads") == min(4, cores) and page.evaluate("inpage.threads") >= min(2, cores)
        assert page.locator("#mine").inner_text() == "edited by its author"
        colour = (200, 60, 30)
        reply = page.evaluate(
            """async (b64) => {
                const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
                return inpage.classify(blob, {model: 'colours', topK: 4});
            }""",
            base64.b64encode(png(colour)).decode(),
        )
        model = run(load_model("colours", manifest=str(app / "models" / "manifest.json")))
        native = run(model.classify(png(colour), top_k=4))
        assert [p["index"] for p in reply["predictions"]] == [p.index for p in native]
        np.testing.assert_allclose([p["score"] for p in reply["predictions"]], [p.score for p in native], atol=1e-4)
        # The scaffold's own page works: it lists the model and classifies a picture through its form.
        page.wait_for_function("document.querySelectorAll('#model option').length === 2")  # the classifier and the detector
        page.select_option("#model", "colours")
        page.locator("#file").set_input_files(files=[{"name": "c.png", "mimeType": "image/png", "buffer": png(colour)}])
        page.wait_for_function("document.querySelector('#result').textContent.includes('predictions')")
        assert json.loads(page.locator("#result").inner_text())["predictions"][0]["index"] == native[0].index
        assert json.loads(page.locator("#result").inner_text())["predictions"][0]["label"] == native[0].label
        assert page.evaluate("window.pwned") is None and page.locator("#result img, #result script, #result b").count() == 0
        # The project's own python/ module, on a wheel from PyPI (and six, which it needs, from Pyodide's).
        assert page.evaluate("inpage.runPython('import dates; dates.when(\\'2 December 2026, 3:30 pm\\')')") == "2026-12-02T15:30:00"
        # A second visit stays isolated with no reload, and nothing left the site's origin.
        page.reload()
        page.wait_for_function("window.inpage !== undefined")
        page.evaluate("inpage.ready")
        assert page.evaluate("crossOriginIsolated") is True and len(navigations) == 3
        assert session.page_errors == [] and session.foreign_requests() == []
    finally:
        session.close()


def test_without_a_service_worker_the_page_still_starts_and_names_the_headers(static_server, browser):
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(static_server + "index.html")
        page.wait_for_function("window.inpage !== undefined")
        page.evaluate("inpage.ready")
        assert page.evaluate("crossOriginIsolated") is False and page.evaluate("inpage.threads") == 1
        # The scaffold's page says so too, and where to read about it.
        page.wait_for_function("document.querySelector('#status').textContent.includes('not cross-origin isolated')")
        assert "Hosting" in page.locator("#status").inner_text()
        # The demo pages say why, naming the headers the host should send.
        page.goto(static_server.replace("/myapp/", "/full/") + "classify.html")
        notice = page.locator(".notice.warn", has_text="cross-origin isolated")
        notice.wait_for()
        text = notice.inner_text()
        assert "Cross-Origin-Embedder-Policy: require-corp" in text and "service worker" in text and "Hosting" in text
        assert errors == []
    finally:
        context.close()


def test_the_drop_in_elements_show_results_as_text_and_fire_events(app, tmp_path, browser):
    from conftest import Server

    server = Server(app / "bare")
    session = PageSession(browser, server.url, permissions=["camera"])
    try:
        page = session.open("elements.html", wait_ready=False)
        page.wait_for_function("customElements.get('inpage-image') && window.inpage")
        page.evaluate("""() => { window.results = []; document.addEventListener('inpage-result', (e) => results.push(e.detail)); }""")
        # A picture in: the default image model (the classifier), its labels shown as text.
        page.locator("inpage-image input[type=file]").set_input_files(files=[{"name": "c.png", "mimeType": "image/png", "buffer": png((200, 60, 30))}])
        page.wait_for_function("results.length >= 1", timeout=60_000)
        first = page.evaluate("results[0]")
        assert first["model"] == "colours" and len(first["predictions"]) == 4
        items = page.eval_on_selector("inpage-image", "e => [...e.shadowRoot.querySelectorAll('[part=result] li')].map(li => li.textContent)")
        assert len(items) == 4 and any("<img src=x onerror=window.pwned=1>" in text for text in items)
        assert page.eval_on_selector("inpage-image", "e => e.shadowRoot.querySelectorAll('[part=result] img, [part=result] b, [part=result] script').length") == 0
        # A numeric option's attribute that is no number is named as written, not as Python's NaN.
        page.evaluate("document.querySelector('inpage-image').setAttribute('top-k', 'abc')")
        page.locator("inpage-image input[type=file]").set_input_files(files=[{"name": "c.png", "mimeType": "image/png", "buffer": png((200, 60, 30))}])
        page.wait_for_function("""document.querySelector('inpage-image').shadowRoot.querySelector('[part=status]').textContent
                                  .includes('<inpage-image> top-k="abc" is not a number')""")
        page.evaluate("document.querySelector('inpage-image').removeAttribute('top-k')")
        # The camera live, with the detector's overlay, one result event per frame.
        page.evaluate("document.querySelector('inpage-camera').setAttribute('model', 'boxes')")
        page.locator("inpage-camera button.start").click()
        page.wait_for_function("results.filter(r => r.detections).length >= 3", timeout=60_000)
        assert page.eval_on_selector("inpage-camera", "e => e.shadowRoot.querySelector('.fps').textContent").endswith("fps")
        page.locator("inpage-camera button.stop").click()
        # A model of the wrong task is one line on the element and an error event, nothing thrown at the page.
        page.evaluate("document.querySelector('inpage-camera').setAttribute('model', 'colours')")
        page.locator("inpage-camera button.start").click()
        page.wait_for_function("document.querySelector('inpage-camera').shadowRoot.querySelector('[part=status]').textContent.includes('TaskMismatchError')")
        assert page.evaluate("window.pwned") is None
        assert session.page_errors == [] and session.foreign_requests() == []
    finally:
        session.close()
        server.stop()


def test_the_scaffold_on_plain_http_from_another_machine_explains_the_camera(static_server, playwright_instance):
    """A LAN address over plain http is no secure context: no camera API. The scaffold's button said
    "Cannot read properties of undefined (reading 'getUserMedia')"; now it says what to do."""
    from conftest import CHROMIUM, QUIET_FLAGS

    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS + ["--host-resolver-rules=MAP lan.inpage.test 127.0.0.1"])
    try:
        page = browser.new_page()
        page.goto(static_server.replace("127.0.0.1", "lan.inpage.test"))
        page.wait_for_function("window.inpage !== undefined")
        page.evaluate("inpage.ready")
        assert page.evaluate("isSecureContext") is False
        page.wait_for_function("document.querySelector('#status').textContent.includes('not cross-origin isolated')")
        page.click("#camera")
        page.wait_for_function("document.querySelector('#result').textContent.includes('CameraError')")
        assert page.locator("#result").inner_text() == (
            "CameraError: the camera needs a secure context: open this page over https, or from localhost")
    finally:
        browser.close()
