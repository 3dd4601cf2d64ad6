"""``--device``: cpu, cuda, cuda:N are accepted by every command; a device the machine lacks is one
line naming the problem (no traceback), before any work; ``cuda`` becomes ``cuda:N``."""

from __future__ import annotations

import pytest
import torch

from helpers import write_photos
from pdloss.cli import main
from pdloss.devices import device_argument, resolve_device
from pdloss.errors import InputError
from pdloss.train import distributed


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine with two CUDA GPUs, as torch.cuda reports it (nothing runs on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_names_resolve_to_devices_with_an_index(two_gpus):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda", default_index=1) == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda:1")) == torch.device("cuda", 1)
    assert resolve_device(None) == torch.device("cuda", 0)
    with pytest.raises(InputError, match=r"cuda:3 asked for, but this machine has 2 CUDA GPU\(s\): cuda:0-1"):
        resolve_device("cuda:3")
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_the_command_line_gives_each_torchrun_rank_its_gpu(two_gpus, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert device_argument("cuda") == "cuda:0" and device_argument(None) is None
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert device_argument("cuda") == "cuda:1" and device_argument("cuda:0") == "cuda:0"
    assert device_argument("cpu") == "cpu"


def test_distributed_setup_gives_set_device_an_index(two_gpus, monkeypatch):
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.setup("cuda").device == torch.device("cuda", 1)  # torchrun's local rank
    assert distributed.setup("cuda:0").device == torch.device("cuda", 0)
    assert chosen == [torch.device("cuda", 1), torch.device("cuda", 0)]
    assert distributed.setup("cpu").device == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_no_cuda_is_one_line_from_every_command(tmp_path, capsys):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not read: the device is checked first")
    write_photos(tmp_path / "in", count=1, size=16)
    commands = {
        "train": ["train", "demo-denoise", f"output={tmp_path / 'runs'}"],
        "sweep": ["sweep", "demo-denoise"],
        "evaluate": ["evaluate", "--pred", str(tmp_path / "in"), "--ref", str(tmp_path / "in")],
        "restore": ["restore", str(checkpoint), str(tmp_path / "in"), str(tmp_path / "out")],
        "bench": ["bench", "--quick"],
    }
    for name, argv in commands.items():
        assert main([*argv, "--device", "cuda"]) == 2, name
        err = capsys.readouterr().err
        assert err.splitlines() == [
            f"pdloss {name}: error: device 'cuda' asked for, but this PyTorch sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build: no); use --device cpu"
        ], name
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()
