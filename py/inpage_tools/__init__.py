"""inpage's host tools, which run on the developer's machine and never in the page: the ``inpage``
command (:mod:`~inpage_tools.cli`), ``inpage add``/``inspect`` (:mod:`~inpage_tools.project`,
:mod:`~inpage_tools.onnxinfo`), the optimiser (:mod:`~inpage_tools.optimize`), the site build
(:mod:`~inpage_tools.bundle`) and the dev server (:mod:`~inpage_tools.server`).

The page runtime is the ``inpage`` package; these tools use it and add what only makes sense on
CPython (ONNX inspection with ``onnx``, quantisation, hatchling, aiohttp).
"""
