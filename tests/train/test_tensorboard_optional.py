"""TensorBoard is optional: without the package, training says so once and writes the CSV logs."""

from __future__ import annotations

import sys

from pdloss.train.trainer import _Logger


def test_without_tensorboard_one_notice_and_the_csv_logs(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # importing it raises ImportError
    logger = _Logger(tmp_path, active=True, resume=False)
    logger.close()
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "pdloss train: TensorBoard events are off (the tensorboard package is not installed; `pip install "
        "tensorboard` adds them in RUN/tensorboard/); the curves are in log.csv and valid.csv"
    ]
    assert logger.writer is None and (tmp_path / "log.csv").exists() and (tmp_path / "valid.csv").exists()
    assert not (tmp_path / "tensorboard").exists()
    _Logger(tmp_path, active=True, resume=True).close()  # a resumed run does not repeat it
    assert capsys.readouterr().err == ""
