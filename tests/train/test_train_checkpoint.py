"""Checkpoint files and the step sampler, against their documented behaviour.

Checkpoints: ``step-XXXXXXX.pt`` (seven digits) plus ``last.pt`` holding the same bytes, written
atomically, the ``keep`` newest numbered files kept, temporary files never left behind; readable
from a file or a run folder; a missing, truncated or foreign file is a clear error.

Sampler: epoch e visits ``randperm(length)`` of a generator seeded ``seed + e``; global batch i of
an epoch is the slice ``[i B, (i + 1) B)`` of that order (the incomplete tail batch is dropped);
rank r of W takes every W-th element of the global batch. Expected orders are built here from
that description.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pdloss.errors import PdlossError
from pdloss.runs.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from pdloss.train.sampler import StepSampler


def _payload(step: int, value: float = 0.0) -> dict:
    return {"step": step, "model": {"w": torch.full((2,), value)}}


def test_numbered_files_last_and_keep(tmp_path):
    folder = tmp_path / "ck"
    for step in (1, 20, 300, 4000):
        last = save_checkpoint(_payload(step, step), folder, keep=2)
        assert last == folder / "last.pt"
        # last.pt holds the newest checkpoint, byte for byte.
        assert last.read_bytes() == (folder / f"step-{step:07d}.pt").read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step-0000300.pt", "step-0004000.pt"]
    assert load_checkpoint(folder / "last.pt")["step"] == 4000
    assert torch.equal(load_checkpoint(folder / "step-0000300.pt")["model"]["w"], torch.full((2,), 300.0))


def test_keep_one_and_keep_three(tmp_path):
    for keep in (1, 3):
        folder = tmp_path / f"keep{keep}"
        for step in range(1, 6):
            save_checkpoint(_payload(step), folder, keep=keep)
        numbered = sorted(p.name for p in folder.glob("step-*.pt"))
        assert numbered == [f"step-{s:07d}.pt" for s in range(6 - keep, 6)]


def test_default_keep_is_two_and_no_temporary_file_is_left(tmp_path):
    folder = tmp_path / "ck"
    for step in range(1, 5):
        save_checkpoint(_payload(step), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step-0000003.pt", "step-0000004.pt"]
    # A stale temporary name from an earlier crash is replaced, not an error.
    (folder / ".last.pt.tmp").write_bytes(b"stale")
    save_checkpoint(_payload(5), folder)
    assert not (folder / ".last.pt.tmp").exists()
    assert load_checkpoint(folder / "last.pt")["step"] == 5


def test_written_under_a_hidden_temporary_name_in_the_same_folder(tmp_path, monkeypatch):
    # Atomic: the bytes go to a temporary file beside the checkpoints (one file system, so the
    # rename cannot be a copy), hidden and named so that no listing takes it for a checkpoint.
    import pdloss.runs.checkpoint as ck

    renames = []
    real_replace = ck.os.replace

    def recording_replace(src, dst):
        renames.append((Path(src), Path(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(ck.os, "replace", recording_replace)
    folder = tmp_path / "ck"
    save_checkpoint(_payload(9), folder)
    temporary, numbered = renames[0]
    assert numbered == folder / "step-0000009.pt"
    assert temporary.parent == folder
    assert re.fullmatch(r"\.ckpt-[^/]+\.tmp", temporary.name), temporary.name


def test_a_failed_write_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    import pdloss.runs.checkpoint as ck

    folder = tmp_path / "ck"
    save_checkpoint(_payload(1, 1.0), folder)

    def failing_save(obj, f):
        f.write(b"half a checkpoint")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ck.torch, "save", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(_payload(2, 2.0), folder)
    monkeypatch.undo()
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step-0000001.pt"]
    assert torch.equal(load_checkpoint(folder / "last.pt")["model"]["w"], torch.ones(2))


def test_step_is_read_as_an_integer(tmp_path):
    save_checkpoint({"step": torch.tensor(7), "model": {}}, tmp_path / "ck")
    assert (tmp_path / "ck" / "step-0000007.pt").exists()


def test_load_from_a_run_folder(tmp_path):
    save_checkpoint(_payload(12, 1.5), tmp_path / "run" / "checkpoints")
    payload = load_checkpoint(tmp_path / "run")
    assert payload["step"] == 12 and torch.equal(payload["model"]["w"], torch.full((2,), 1.5))
    assert load_checkpoint(str(tmp_path / "run"))["step"] == 12


def test_load_errors_name_the_file_and_the_way_out(tmp_path):
    with pytest.raises(PdlossError, match=r"no checkpoint at .*missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(PdlossError, match=r"no checkpoint at .*last\.pt"):
        load_checkpoint(tmp_path)  # a folder without checkpoints/last.pt
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(b"not a torch file")
    with pytest.raises(PdlossError, match=r"truncated\.pt is unreadable .*use an earlier step-\*\.pt"):
        load_checkpoint(truncated)
    for name, obj in (("list.pt", [1, 2]), ("nostep.pt", {"model": {}}), ("nomodel.pt", {"step": 1})):
        torch.save(obj, tmp_path / name)
        with pytest.raises(PdlossError, match=rf"{name.replace('.', '[.]')} is not a pdloss checkpoint"):
            load_checkpoint(tmp_path / name)


def test_load_maps_tensors_to_the_given_device(tmp_path):
    save_checkpoint(_payload(1), tmp_path / "ck")
    assert load_checkpoint(tmp_path / "ck" / "last.pt", map_location="meta")["model"]["w"].device.type == "meta"


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.random(3).tolist(), [random.random() for _ in range(3)]  # noqa: NPY002


def test_rng_state_round_trip_restores_all_three_streams():
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002
    random.seed(3)
    state = rng_state()
    assert set(state) >= {"torch", "numpy", "python"}
    expected = _draws()
    _draws()  # move every stream on
    set_rng_state(state)
    assert _draws() == expected
    # Each stream is restored on its own: changing one and restoring gives that one back too.
    set_rng_state(state)
    random.seed(99)
    set_rng_state(state)
    assert _draws() == expected


def test_rng_state_is_a_snapshot():
    torch.manual_seed(5)
    state = rng_state()
    torch.rand(10)
    assert not torch.equal(state["torch"], torch.get_rng_state())


# -- the sampler --------------------------------------------------------------------------------
def _order(length: int, seed: int, epoch: int) -> list[int]:
    return torch.randperm(length, generator=torch.Generator().manual_seed(seed + epoch)).tolist()


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_sampler_epochs_batches_and_dropped_tail():
    sampler = StepSampler(length=10, global_batch=4, seed=7)
    assert sampler.batches_per_epoch == 2  # 10 items, batches of 4: the last 2 are dropped
    got = _take(sampler.iter_from(0), 5)
    e0, e1, e2 = _order(10, 7, 0), _order(10, 7, 1), _order(10, 7, 2)
    assert got == [(0, e0[0:4]), (0, e0[4:8]), (1, e1[0:4]), (1, e1[4:8]), (2, e2[0:4])]
    assert e0 != e1  # epochs are shuffled differently


@pytest.mark.parametrize("start", [0, 1, 2, 3, 7])
def test_sampler_starts_at_any_step_without_replay(start):
    sampler = StepSampler(length=9, global_batch=3, seed=2)
    straight = _take(sampler.iter_from(0), 12)
    assert _take(sampler.iter_from(start), 12 - start) == straight[start:]
    assert sampler.position(start) == divmod(start, 3)


def test_sampler_ranks_split_each_global_batch():
    single = _take(StepSampler(12, 4, seed=1).iter_from(0), 6)
    ranks = [_take(StepSampler(12, 4, seed=1, rank=r, world=2).iter_from(0), 6) for r in range(2)]
    for step, (epoch, batch) in enumerate(single):
        assert ranks[0][step] == (epoch, batch[0::2])
        assert ranks[1][step] == (epoch, batch[1::2])


def test_sampler_plain_iteration_and_length():
    sampler = StepSampler(length=10, global_batch=4, seed=3, rank=1, world=2)
    assert len(sampler) == 4  # 2 batches of 4, half of each on this rank
    order = _order(10, 3, 0)
    assert list(zip(range(4), iter(sampler), strict=False)) == list(enumerate(order[1:8:2]))
    sampler.start_step = 1
    assert next(iter(sampler)) == order[5]


def test_sampler_errors():
    with pytest.raises(ValueError, match="global batch 5 must be divisible by the 2 processes"):
        StepSampler(10, 5, 0, rank=0, world=2)
    with pytest.raises(ValueError, match="epoch of 3 items is smaller than the batch 4"):
        StepSampler(3, 4, 0)
    assert StepSampler(4, 4, 0).batches_per_epoch == 1  # exactly one batch is enough


class _FakeCuda:
    """Records the CUDA RNG calls, as a machine with a GPU would see them."""

    def __init__(self, available: bool) -> None:
        self.available, self.saved, self.restored = available, [torch.tensor([1, 2], dtype=torch.uint8)], []

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: self.available)
        monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: self.saved)
        monkeypatch.setattr(torch.cuda, "set_rng_state_all", self.restored.append)


def test_cuda_rng_states_are_saved_and_restored_where_there_is_a_gpu(monkeypatch):
    gpu = _FakeCuda(available=True)
    gpu.install(monkeypatch)
    state = rng_state()
    assert state["cuda"] is gpu.saved
    set_rng_state(state)
    assert gpu.restored == [gpu.saved]
    # A checkpoint written on a CPU machine resumes on a GPU one: nothing to restore there.
    set_rng_state({k: v for k, v in state.items() if k != "cuda"})
    assert gpu.restored == [gpu.saved]


def test_cuda_rng_states_are_skipped_without_a_gpu(monkeypatch):
    cpu = _FakeCuda(available=False)
    cpu.install(monkeypatch)
    state = rng_state()
    assert "cuda" not in state
    # A checkpoint written on a GPU machine resumes on a CPU-only one: its CUDA states are ignored.
    set_rng_state({**state, "cuda": cpu.saved})
    assert cpu.restored == []
