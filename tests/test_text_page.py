"""Text in the page, in headless Chromium against the real dev server: the text page's semantic search
(documents embedded natively at build time, the query in the page), page = native for embeddings
(cosine >= 0.9999) and text classification (same order, scores within 1e-3), the page's tokenizer
giving the ``tokenizers`` library's ids, and hostile calls answered with one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizers import Tokenizer as ReferenceTokenizer

from conftest import ROOT, PageSession, Server, build, run
from inpage import load_model
from makers import MINILM, text_export_folder

pytestmark = pytest.mark.browser

# Short and nasty: accents, combining marks, CJK, emoji with ZWJ and skin tones, right-to-left
# scripts, zero-width and control characters, odd spaces, an empty text and a long one.
CORPUS = [
    "A cat sat on the mat.",
    "Crème brûlée, naïve café, déjà vu — Ångström.",
    "e\u0301 vs \u00e9: combining acute accents",
    "東京で寿司を食べました。北京欢迎你！한국어 문장입니다.",
    "Family: 👨\u200d👩\u200d👧\u200d👦, thumbs 👍🏽👍🏿, flag 🇫🇷",
    "مرحبا بالعالم — שלום עולם",
    "zero\u200bwidth\u200cjoiners\u200d and\u00a0nbsp\u2003em space",
    "tabs\tand\nnewlines\r\nand control \x07 chars",
    "",
    "   ",
    "UPPER lower MiXeD 12345 3.14159 $100 #hashtag @mention https://example.org/a?b=c",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism " * 3,
    "The quick brown fox jumps over the lazy dog. " * 40,
]


def native_minilm():
    return run(load_model("all-minilm-l6-v2", manifest=str(ROOT / "models" / "manifest.json"), variant="base"))


def cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def page_vectors(result):
    return np.asarray(result["embeddings"]["data"], dtype=np.float64).reshape(result["embeddings"]["dims"])


def test_search_page_finds_documents_by_meaning_offline(open_page):
    session = open_page("text.html")
    page = session.page
    page.wait_for_function("document.querySelector('#index-model').textContent.includes('40 documents')")
    page.fill("#query", "how do I stop my frying pan from rusting")
    page.click("#search")
    page.wait_for_function("document.querySelector('#hits li .title') !== null")
    assert page.locator("#hits .title").first.inner_text() == "Cast-iron care"
    page.click("text=petit-déjeuner en terrasse")
    page.wait_for_function("document.querySelector('#hits li .title')?.textContent !== 'Cast-iron care'")
    assert page.locator("#hits .title").first.inner_text() in ("Café en París", "Le marché du samedi")
    scores = [float(s) for s in page.locator("#hits li").evaluate_all("items => items.map(i => i.dataset.score)")]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    assert page.locator("#backend").inner_text().startswith("WASM")
    assert session.foreign_requests() == [] and session.page_errors == []


def test_the_search_index_holds_the_native_embeddings(site):
    import base64

    index = json.loads((site / "samples" / "search-index.json").read_text())
    stored = np.frombuffer(base64.b64decode(index["embeddings"]), "<f4").reshape(index["dims"])
    texts = [f"{d['title']}. {d['text']}" for d in index["documents"]]
    np.testing.assert_allclose(stored, run(native_minilm().embed(texts)), atol=1e-6)


def test_page_embeddings_equal_native(open_page):
    page = open_page("text.html").page
    result = page.evaluate("(texts) => inpage.embed(texts)", CORPUS)
    assert result["embeddings"]["dims"] == [len(CORPUS), 384] and result["model"] == "all-minilm-l6-v2"
    native = run(native_minilm().embed(CORPUS))
    assert cosines(page_vectors(result), native).min() >= 0.9999
    one = page.evaluate("(text) => inpage.embed(text)", CORPUS[1])
    assert one["embeddings"]["dims"] == [1, 384]
    assert cosines(page_vectors(one), native[1:2]).min() >= 0.9999


def test_page_tokenizer_gives_the_tokenizers_librarys_ids(open_page, server):
    page = open_page("text.html").page
    pairs = [[CORPUS[0], CORPUS[3]], [CORPUS[4], ""]]
    ids = page.evaluate(
        """async ([url, texts, pairs]) => JSON.parse(await inpage.runPython(`
from pyodide.http import pyfetch
import json
from inpage.text import Tokenizer
tokenizer = Tokenizer.from_str(await (await pyfetch(${JSON.stringify(url)})).string())
texts = json.loads(${JSON.stringify(JSON.stringify(texts))})
pairs = json.loads(${JSON.stringify(JSON.stringify(pairs))})
json.dumps({"single": [tokenizer.encode(t).ids for t in texts], "pairs": [[tokenizer.encode(a, b).ids, tokenizer.encode(a, b).type_ids] for a, b in pairs]})
`))""",
        [server.url + "models/all-minilm-l6-v2/tokenizer.json", CORPUS, pairs],
    )
    # The file as it is, on both sides: MiniLM's tokenizer.json truncates and pads to 128 itself.
    reference = ReferenceTokenizer.from_file(str(MINILM / "tokenizer.json"))
    assert ids["single"] == [e.ids for e in reference.encode_batch(CORPUS)]
    assert ids["pairs"] == [[reference.encode(a, b).ids, reference.encode(a, b).type_ids] for a, b in pairs]


def test_page_text_calls_refuse_bad_input_and_take_a_megabyte(open_page):
    session = open_page("text.html")
    page = session.page
    errors = page.evaluate("""async () => {
        const failed = (call) => call.then(() => null, (e) => [e.name, e.message]);
        return [await failed(inpage.embed(['fine', 3])), await failed(inpage.embed(42)), await failed(inpage.embed([])),
                await failed(inpage.embed(['a', {text: 'b'}])), await failed(inpage.embed('x', {model: 'efficientnet-lite0'}))];
    }""")
    assert errors[0] == ["InvalidArgumentError", "texts[1] is an int (3); each text must be a string (or a [text, pair] of two strings)"]
    assert errors[1][0] == "InvalidArgumentError" and "texts must be a string or a list of strings" in errors[1][1]
    assert errors[2][0] == "InvalidArgumentError" and "empty list" in errors[2][1]
    assert errors[3][0] == "InvalidArgumentError" and "texts[1] is a dict" in errors[3][1]
    assert errors[4][0] == "TaskMismatchError"
    huge = page.evaluate("() => inpage.embed('All work and no play makes Jack a dull boy. '.repeat(24000))")
    assert huge["embeddings"]["dims"] == [1, 384]
    text = "All work and no play makes Jack a dull boy. " * 24000
    assert cosines(page_vectors(huge), run(native_minilm().embed([text]))).min() >= 0.9999
    # The page still works after all that.
    assert page.evaluate("() => inpage.embed('still here').then(r => r.embeddings.dims)") == [1, 384]
    assert session.page_errors == []


@pytest.fixture(scope="module")
def text_project(tmp_path_factory):
    """A project with a tiny text classifier and a tiny embedder, added from export folders, built."""
    import subprocess
    import sys

    project = tmp_path_factory.mktemp("textapp")
    made = tmp_path_factory.mktemp("made")
    # Labels that are markup: every page must show them as text.
    labels = ("negative <b>bold</b>", "neutral", "<img src=x onerror=window.pwned=1>")
    for folder in (text_export_folder(made / "sentiment", kind="classify", labels=labels), text_export_folder(made / "tiny-embedder", pooling="cls")):
        added = subprocess.run([sys.executable, "-m", "inpage_tools", "add", str(folder)], cwd=project, capture_output=True, text=True, timeout=300)
        assert added.returncode == 0, added.stderr
    out = project / "site"
    result = build(out, project)
    assert result.returncode == 0, result.stderr
    return project, out


def test_a_text_project_classifies_in_the_page_as_natively(text_project, browser):
    project, out = text_project
    server = Server(out)
    session = PageSession(browser, server.url)
    try:
        page = session.open("text.html")
        page.wait_for_selector("#classify-panel:not([hidden])")
        texts = ["What a lovely day!", "This is awful.", "Der Zug fährt um 8 Uhr.", ""]
        result = page.evaluate("(texts) => inpage.classifyText(texts, {model: 'sentiment'})", texts)
        native_model = run(load_model("sentiment", manifest=str(project / "models" / "manifest.json")))
        for ours, theirs in zip(result["predictions"], run(native_model.classify_text(texts))):
            assert [p["index"] for p in ours] == [p.index for p in theirs]
            np.testing.assert_allclose([p["score"] for p in ours], [p.score for p in theirs], atol=1e-3)
        page.fill("#classify-input", "What a lovely day!")
        page.click("#classify-form button")
        page.wait_for_selector("#predictions li .label")
        assert page.locator("#predictions .label").first.inner_text() == result["predictions"][0][0]["label"]
        assert page.locator("#predictions img").count() == 0
        # The search index was made with the project's own embedder.
        assert page.locator("#index-model").inner_text().startswith("Search model: tiny-embedder")
        embedded = page.evaluate("(texts) => inpage.embed(texts, {model: 'tiny-embedder'})", texts)
        native = run(run(load_model("tiny-embedder", manifest=str(project / "models" / "manifest.json"))).embed(texts))
        assert cosines(page_vectors(embedded), native).min() >= 0.9999
        # 10,000 texts in one call: run 32 at a time, the page's memory unchanged afterwards.
        many = page.evaluate("""async () => {
            const before = (await inpage.memory()).pyodideHeap;
            const texts = Array.from({length: 10000}, (_, i) => `text number ${i}` + ' more'.repeat(i % 7));
            const result = await inpage.embed(texts, {model: 'tiny-embedder'});
            const between = (await inpage.memory()).pyodideHeap;
            const again = await inpage.embed(texts, {model: 'tiny-embedder'});
            return {dims: result.embeddings.dims, same: result.embeddings.data.every((v, i) => v === again.embeddings.data[i]),
                    first: between - before, second: (await inpage.memory()).pyodideHeap - between};
        }""")
        assert many["dims"] == [10000, 8] and many["same"]
        # Python's heap never shrinks: a first call may grow it a little, a second of the same size barely.
        assert many["first"] < 64 * 2**20 and many["second"] < 16 * 2**20, many
        # The models page offers a text form for each text model.
        page.goto(server.url + "models.html")
        card = page.locator('[data-model="sentiment"]')
        assert "Text input\ntokenizer.json, up to" in card.locator(".facts").inner_text()
        assert "Pooling\ncls, normalised" in page.locator('[data-model="tiny-embedder"] .facts').inner_text()
        card.locator(".text").fill("What a lovely day!")
        card.locator(".text-input button").click()
        page.wait_for_function("document.querySelector('[data-model=sentiment] .result').textContent.includes('%')")
        assert result["predictions"][0][0]["label"] in card.locator(".result").inner_text()
        assert page.locator("img[src=x]").count() == 0 and page.evaluate("window.pwned") is None
        assert session.foreign_requests() == [] and session.page_errors == []
    finally:
        session.close()
        server.stop()


@pytest.mark.parametrize("name", ["gpt2", "roberta-base", "t5-small", "xlmr-unigram", "llama-bpe-bytefallback"])
def test_page_tokenizer_matches_every_family(open_page, name):
    """The page's Python (Pyodide 3.12, Unicode 15) gives the ``tokenizers`` library's ids, type ids and
    offsets for byte-level BPE, SentencePiece BPE and Unigram with a Precompiled charsmap, as natively."""
    from tokenizers import Tokenizer as Reference

    from test_text_tokenizer import PAIRS, TEXTS, source

    page = open_page("text.html").page
    encoded = page.evaluate(
        """async ([tokenizerJson, texts, pairs]) => JSON.parse(await inpage.runPython(`
import json
from inpage.text import Tokenizer
tokenizer = Tokenizer.from_str(json.loads(${JSON.stringify(JSON.stringify(tokenizerJson))}))
tokenizer.no_truncation()
tokenizer.no_padding()
def fields(e):
    return [e.ids, e.type_ids, [list(o) for o in e.offsets]]
texts = json.loads(${JSON.stringify(JSON.stringify(texts))})
pairs = json.loads(${JSON.stringify(JSON.stringify(pairs))})
json.dumps({"single": [fields(tokenizer.encode(t)) for t in texts], "pairs": [fields(tokenizer.encode(a, b)) for a, b in pairs]})
`))""",
        [source(name), TEXTS, [list(p) for p in PAIRS]],
    )
    reference = Reference.from_str(source(name))
    reference.no_truncation()
    reference.no_padding()

    def fields(e):
        return [e.ids, e.type_ids, [list(o) for o in e.offsets]]

    assert encoded["single"] == [fields(reference.encode(t)) for t in TEXTS]
    assert encoded["pairs"] == [fields(reference.encode(a, b)) for a, b in PAIRS]
