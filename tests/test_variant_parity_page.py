"""Every variant of every demo model gives the same answers in the page as natively, on every sample photo.

int8 included: its integer kernels must compute the same numbers on every CPU and in WebAssembly
(tests/test_int8_portability.py checks the weight ranges that make this so), so the tolerances are
the fp32 ones (tests/parity.py). Natively the variant is forced, whatever this CPU would choose.
"""

from __future__ import annotations

import pytest

from conftest import ROOT, SAMPLES, run
from parity import assert_same_result

pytestmark = pytest.mark.browser

MANIFEST = ROOT / "models" / "manifest.json"
PHOTOS = sorted(p.name for p in SAMPLES.glob("*.png"))
METHODS = {"detect": "detect", "classify": "classify", "pose": "estimatePose", "segment": "segment"}


def demo_variants() -> list[tuple[str, str, str]]:
    import json

    found = []
    for entry in json.loads(MANIFEST.read_text())["models"]:
        if entry["task"] in METHODS:
            found += [(entry["name"], entry["task"], v["name"]) for v in entry.get("variants", []) if v["name"] != "opt"]
    return found


VARIANTS = demo_variants()


def test_every_demo_model_has_a_variant_here():
    # selfie has none: its int8 cannot give the same answers on every CPU (see test_optimize.py).
    assert {name for name, _task, _variant in VARIANTS} == {"nanodet-m", "blazeface", "efficientnet-lite0", "movenet-lightning"}
    assert len(PHOTOS) >= 4


@pytest.mark.parametrize("name,task,variant", VARIANTS, ids=[f"{n}@{v}" for n, _t, v in VARIANTS])
def test_variant_in_the_page_equals_native_on_every_photo(open_page, name, task, variant):
    from inpage import load_model

    native = run(load_model(name, manifest=str(MANIFEST), variant=variant))
    try:
        session = open_page("classify.html")
        results = session.page.evaluate(
            """async ([method, name, variant, photos]) => {
                const out = {};
                for (const photo of photos) out[photo] = await inpage.call(method, 'samples/' + photo, {model: name, variant});
                return out;
            }""",
            [METHODS[task], name, variant, PHOTOS],
        )
        for photo in PHOTOS:
            result = results[photo]
            assert result["variant"] == variant and result["backend"] == "wasm", result
            expected = run(native.infer((SAMPLES / photo).read_bytes()))
            assert_same_result(task, result, expected, where=f"{name}@{variant} on {photo}")
        assert session.foreign_requests() == []
    finally:
        native.close()
