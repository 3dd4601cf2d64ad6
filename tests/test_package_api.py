"""The package's lazy top-level names: ``import pdloss`` imports no torch module until one is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pdloss.errors import InputError


def test_import_pdloss_imports_neither_torch_nor_the_restore_module():
    # A fresh interpreter: in this one other tests have imported everything already.
    code = "import sys, pdloss; print(sorted(m for m in ('torch', 'pdloss.restore', 'pdloss.amp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pdloss_restore_calls_the_restore_function(tmp_path):
    import pdloss
    import pdloss.restore as module
    from pdloss.restore import restore

    # `import pdloss; pdloss.restore(...)` reaches the module through pdloss.__getattr__ when nothing
    # imported it before; the module is callable, so the attribute means one thing either way.
    assert pdloss.__getattr__("restore") is module is pdloss.restore and callable(module)
    assert "restore" in pdloss.__all__ and pdloss.autocast_dtype is pdloss.__getattr__("autocast_dtype")
    (tmp_path / "in").mkdir()
    # An empty input folder fails in restore() before any model is loaded: the call reached the function.
    for call in (pdloss.restore, restore):
        with pytest.raises(InputError, match="holds no image files"):
            call(tmp_path / "no-run", tmp_path / "in", tmp_path / "out", progress=False)
