"""The package's lazy top-level names: ``import pdloss`` imports no torch module until one is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pdloss.errors import InputError


def test_import_pdloss_imports_neither_torch_nor_the_restoration_module():
    # A fresh interpreter: in this one other tests have imported everything already.
    modules = "('torch', 'pdloss.restoration', 'pdloss.amp')"
    code = f"import sys, pdloss; print(sorted(m for m in {modules} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pdloss_restore_is_the_restore_function(tmp_path):
    import inspect

    import pdloss
    from pdloss.restoration import restore

    # A plain function (served lazily by pdloss.__getattr__), not a module made callable; no module
    # is named pdloss.restore, so importing one can never shadow it.
    assert pdloss.__getattr__("restore") is restore is pdloss.restore and inspect.isfunction(restore)
    assert "restore" in pdloss.__all__ and pdloss.autocast_dtype is pdloss.__getattr__("autocast_dtype")
    (tmp_path / "in").mkdir()
    # An empty input folder fails in restore() before any model is loaded: the call reached the function.
    for call in (pdloss.restore, restore):
        with pytest.raises(InputError, match="holds no image files"):
            call(tmp_path / "no-run", tmp_path / "in", tmp_path / "out", progress=False)
