"""Training: one task, one model, one loss — on a CPU, a GPU, or many through torchrun/DDP.

``train(config)`` builds data, model, loss and optimiser from a :class:`Config`, trains for
``train.iterations`` steps with periodic validation and checkpoints, and returns the run folder:

    RUN/config.yaml          the config as run
    RUN/log.csv              step, losses, learning rate, speed (rank 0)
    RUN/valid.csv            step, validation PSNR
    RUN/tensorboard/         the same curves for TensorBoard (only when the tensorboard package is installed)
    RUN/checkpoints/last.pt  the latest checkpoint (atomic), step-*.pt the previous ones
    RUN/DONE                 written when the last step is reached
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

# The rule for train.amp lives in pdloss.amp (shared with pdloss.autocast_dtype); both names stay importable here.
from pdloss.amp import amp_dtype, cpu_supports_bf16  # noqa: F401
from pdloss.config.schema import Config, OptimConfig, config_from_dict, loss_arguments
from pdloss.data.paired import PairedDataset, ValidationDataset
from pdloss.data.sources import resolve_images
from pdloss.degradations import build_degradation
from pdloss.errors import PdlossError
from pdloss.functional import pixel_distance
from pdloss.losses.registry import build_loss
from pdloss.provenance import machine_facts
from pdloss.runs.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from pdloss.runs.layout import checkpoint_dir, config_file, done_file, last_checkpoint
from pdloss.runs.lock import run_lock
from pdloss.runs.model import build_model_from_config, init_model_from
from pdloss.runs.snapshot import check_same_training, write_snapshot
from pdloss.train import distributed
from pdloss.train.sampler import StepSampler
from pdloss.train.stop import StopOnSigterm, Terminated


def build_loss_from_config(config: Config, device: torch.device) -> torch.nn.Module:
    # The pixel-only baseline and the GAN leave out the feature losses' options a sweep's base
    # `loss:` section sets for its other rows (config.ignored_loss_keys); any other key reaches the loss.
    kwargs = loss_arguments(config.loss)
    # A network's early outputs may stray far outside [0, 1]; the trainer checks the loss value
    # for NaN/Inf itself (once per step), so the per-call range check is off unless asked for.
    kwargs.setdefault("validate", False)
    return build_loss(config.loss["name"], **kwargs).to(device)


class _IndexBatches:
    """Batches of (epoch, index) keys from a StepSampler, starting at a given step."""

    def __init__(self, sampler: StepSampler, start_step: int) -> None:
        self.sampler, self.start_step = sampler, start_step

    def __iter__(self):
        for epoch, indices in self.sampler.iter_from(self.start_step):
            yield [(epoch, i) for i in indices]


def lr_factor(step: int, optim: OptimConfig, iterations: int) -> float:
    """The learning-rate multiplier at ``step``: linear warm-up over ``optim.warmup`` steps, then
    cosine to 0 at ``iterations`` or a step decay by ``optim.gamma`` at each milestone."""
    factor = 1.0
    if optim.warmup and step < optim.warmup:
        factor = (step + 1) / optim.warmup
    if optim.schedule == "cosine":
        progress = min(1.0, max(0, step - optim.warmup) / max(1, iterations - optim.warmup))
        factor *= 0.5 * (1 + math.cos(math.pi * progress))
    elif optim.schedule == "step":
        factor *= optim.gamma ** sum(step >= m for m in optim.milestones)
    return factor


class Trainer:
    """Everything of one training run; :meth:`run` trains, resumable at any checkpoint."""

    def __init__(self, config: Config, device: str | None = None, progress: bool = True) -> None:
        self.config = config
        self.dist = distributed.setup(device)
        self.device = self.dist.device
        self.progress = progress and self.dist.main
        self.run_dir = Path(config.output)
        self.amp = amp_dtype(config.train.amp, self.device)
        channels_last = config.train.channels_last
        self.channels_last = self.amp is not None if channels_last is None else channels_last
        torch.manual_seed(config.seed)

        self.degradation = build_degradation(config.task, **config.task_options)
        train_images = resolve_images(config.data.train)
        length = config.data.length or max(len(train_images), 16 * config.data.batch)
        self.train_set = PairedDataset(
            train_images, self.degradation, config.data.crop, length=length, seed=config.seed, cache=config.data.cache
        )
        valid_images = resolve_images(config.data.valid or config.data.train)
        if config.data.valid_limit:
            valid_images = valid_images[: config.data.valid_limit]
        self.valid_set = ValidationDataset(valid_images, self.degradation, config.data.valid_crop, seed=config.seed)
        self.sampler = StepSampler(len(self.train_set), config.data.batch, config.seed, self.dist.rank, self.dist.world)

        self.model = build_model_from_config(config).to(self.device)
        if config.model.init:
            init_model_from(self.model, config, config.model.init)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = build_loss_from_config(config, self.device)
        self.ddp_model = self.model
        if self.dist.enabled:
            self.ddp_model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        opt = config.optim
        optimizer_cls = torch.optim.AdamW if opt.name == "adamw" else torch.optim.Adam
        self.optimizer = optimizer_cls(
            self.model.parameters(), lr=opt.lr, betas=tuple(opt.betas), weight_decay=opt.weight_decay
        )
        # A partial of a module-level function, not a bound method: LambdaLR's state_dict stores the
        # __dict__ of non-function schedules, and a bound method exposes its function's (which
        # tools that wrap functions, such as mutmut, fill with unpicklable objects).
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, functools.partial(lr_factor, optim=opt, iterations=config.train.iterations)
        )
        self.discriminator = getattr(self.loss, "discriminator", None)
        self.d_optimizer = None
        if self.discriminator is not None:
            if self.dist.enabled:
                raise PdlossError("the adversarial loss is not supported under DDP yet; train it on one device")
            self.d_optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=opt.d_lr or opt.lr, betas=tuple(opt.betas)
            )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.step = 0

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict:
        payload = {
            "step": self.step,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "loss": self.loss.state_dict(),
            "rng": rng_state(),
            "weights": getattr(self.loss, "weights_label", None),
        }
        generator = getattr(self.loss, "_generator", None)
        if generator is not None:
            payload["loss_generator"] = generator.get_state()
        if self.d_optimizer is not None:
            payload["d_optimizer"] = self.d_optimizer.state_dict()
        return payload

    def load_state(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        self.loss.load_state_dict(payload["loss"])
        if "loss_generator" in payload:
            self.loss._generator.set_state(payload["loss_generator"])
        if self.d_optimizer is not None and "d_optimizer" in payload:
            self.d_optimizer.load_state_dict(payload["d_optimizer"])
        set_rng_state(payload["rng"])
        self.step = int(payload["step"])

    def save(self) -> None:
        if self.dist.main:
            save_checkpoint(self.state(), checkpoint_dir(self.run_dir), self.config.train.keep_checkpoints)
        distributed.barrier(self.dist)

    # -- steps ------------------------------------------------------------------------------
    def autocast(self):
        if self.amp is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def train_step(self, degraded: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        degraded, target = self._to_device(degraded), self._to_device(target)
        multi_scale = getattr(self.model, "n_scales", 1) > 1
        with self.autocast():
            outputs = self.ddp_model(degraded, return_all_scales=True) if multi_scale else [self.ddp_model(degraded)]
        # Losses get float32 images: their feature networks autocast by themselves.
        prediction = outputs[-1].float()
        with self.autocast():
            loss, terms = self.loss(prediction, target, return_terms=True)
        if multi_scale:
            # SRN and PSS-NSC train every scale (their references do); the coarse scales get the
            # pixel term only: VGG features of 1/4-size crops carry little, and cost a VGG pass each.
            coarse = sum(
                pixel_distance(out.float(), F.interpolate(target, size=out.shape[-2:], mode="area"), 1).mean()
                for out in outputs[:-1]
            )
            loss = loss + coarse
            terms = {**terms, "coarse_pixel": coarse.detach()}
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.optim.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        values = {"loss": loss.detach()}
        values.update({k: v for k, v in terms.items()})
        if self.d_optimizer is not None:
            with self.autocast():
                d_loss = self.loss.discriminator_loss(target, prediction.detach())
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_optimizer.step()
            values["d_loss"] = d_loss.detach()
        stacked = torch.stack([v.float() for v in values.values()])
        if self.dist.enabled:
            distributed.all_reduce_sum(stacked, self.dist)
            stacked /= self.dist.world
        result = dict(zip(values, stacked.tolist(), strict=True))
        if not math.isfinite(result["loss"]):
            raise PdlossError(
                f"the loss became {result['loss']} at step {self.step + 1}; the last checkpoint is in "
                f"{checkpoint_dir(self.run_dir)}. Lower optim.lr, set optim.grad_clip, or check the data."
            )
        return result

    @torch.no_grad()
    def validate(self) -> float:
        """Mean PSNR (dB, [0, 1] range, clipped prediction) over the validation set, all ranks."""
        self.model.eval()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)
        for index in range(self.dist.rank, len(self.valid_set), self.dist.world):
            degraded, target = self.valid_set[index]
            with self.autocast():
                prediction = self.model(self._to_device(degraded[None]))
            mse = (prediction.float().clamp(0, 1) - target[None].to(self.device)).pow(2).mean()
            total += torch.stack(
                [
                    10 * torch.log10(1 / mse.clamp_min(1e-12)).double(),
                    torch.ones((), dtype=torch.float64, device=self.device),
                ]
            )
        distributed.all_reduce_sum(total, self.dist)
        self.model.train()
        return (total[0] / total[1].clamp_min(1)).item()

    # -- the loop ---------------------------------------------------------------------------
    def _prepare_run_dir(self, resume: bool) -> None:
        if not self.dist.main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        trained = last_checkpoint(self.run_dir).exists()
        if not resume and trained:
            raise PdlossError(f"{self.run_dir} already holds a run; use --resume to continue it or another output")
        if resume and trained and config_file(self.run_dir).exists():
            # `pdloss train --resume` with another train.iterations is a deliberate extension (or an
            # early end); the sweep, which reuses runs without being asked, refuses even that.
            for change in check_same_training(self.run_dir, self.config, allow=("train.iterations",)):
                print(f"resuming {self.run_dir} with {change} (the schedule follows the new length)", file=sys.stderr)
        write_snapshot(self.run_dir, self.config)

    def run(self, resume: bool = False) -> Path:
        """Train to ``train.iterations`` (from the last checkpoint with ``resume``).

        One writer per run folder: rank 0 (the only writer under torchrun) holds the folder's OS
        lock for the whole run, so a second ``pdloss train`` on it fails at once naming this one
        (:func:`train` takes it earlier still, before data and model are built; the lock is re-entrant).

        SIGTERM (``kill``) stops the run as Ctrl-C does: after the step under way, the state is
        saved and :class:`~pdloss.train.stop.Terminated` (a ``KeyboardInterrupt``) is raised.
        """
        with run_lock(self.run_dir, "train") if self.dist.main else nullcontext():
            return self._run_locked(resume)

    def _run_locked(self, resume: bool) -> Path:
        self._prepare_run_dir(resume)
        if resume and last_checkpoint(self.run_dir).exists():
            self.load_state(load_checkpoint(self.run_dir, self.device))
        distributed.barrier(self.dist)
        total = self.config.train.iterations
        if self.step >= total:
            return self.run_dir
        loader = DataLoader(
            self.train_set,
            batch_sampler=_IndexBatches(self.sampler, self.step),
            num_workers=self.config.data.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            # The loader's iterator draws its workers' base seed from this generator; without it the
            # draw comes from the global RNG, which a resumed run has just restored: its stream (a
            # user's dropout, say) would run one draw ahead of the uninterrupted run's.
            generator=torch.Generator().manual_seed(self.config.seed),
        )
        logger = _Logger(self.run_dir, self.dist.main, resume)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                initial=self.step,
                desc=f"train {self.config.name}",
                unit="step",
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self.model.train()
        started, last_time, last_step = time.perf_counter(), time.perf_counter(), self.step
        with StopOnSigterm(self.dist) as stop:
            self._loop(loader, logger, bar, stop, total, last_time, last_step)
            if self.dist.main:
                done_file(self.run_dir).write_text(f"{self.step} steps in {time.perf_counter() - started:.1f} s\n")
                self._write_provenance(resume, time.perf_counter() - started)
            distributed.barrier(self.dist)
        return self.run_dir

    def _write_provenance(self, resumed: bool, seconds: float) -> None:
        """``RUN/provenance.json``: the precision and threads the steps actually ran with and the
        machine they ran on (results exported from this run carry it)."""
        facts = {
            "precision": "float32" if self.amp is None else str(self.amp).removeprefix("torch."),
            "channels_last": bool(self.channels_last),
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "world_size": self.dist.world,
            "resumed": resumed,
            "last_session_seconds": round(seconds, 1),
            "machine": machine_facts(Path(__file__).parent),
        }
        (self.run_dir / "provenance.json").write_text(json.dumps(facts, indent=1) + "\n")

    def _loop(
        self, loader: DataLoader, logger: _Logger, bar, stop: StopOnSigterm, total: int, last_time: float,
        last_step: int,
    ) -> None:
        """The steps up to ``total``; on Ctrl-C or SIGTERM the state after the last finished step is saved."""
        try:
            for degraded, target in loader:
                values = self.train_step(degraded, target)
                self.step += 1
                cfg = self.config.train
                if self.step % cfg.log_every == 0 or self.step == total:
                    now = time.perf_counter()
                    speed = (self.step - last_step) / max(now - last_time, 1e-9)
                    last_time, last_step = now, self.step
                    logger.log_train(self.step, values, self.scheduler.get_last_lr()[0], speed)
                    if bar is not None:
                        bar.set_postfix(loss=f"{values['loss']:.4f}", steps_s=f"{speed:.2f}")
                if bar is not None:
                    bar.update(1)
                if self.step % cfg.valid_every == 0 or self.step == total:
                    logger.log_valid(self.step, self.validate())
                if self.step % cfg.checkpoint_every == 0 or self.step == total:
                    self.save()
                if self.step >= total:
                    break
                stop.check()  # SIGTERM: raises Terminated, handled below as Ctrl-C
        except KeyboardInterrupt as exc:
            # Nothing is lost: the state after the last finished step goes to disk.
            self.save()
            if bar is not None:
                bar.close()
            logger.close()
            how = "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted"
            print(f"\n{how} at step {self.step}; resume with --resume", file=sys.stderr)
            raise
        if bar is not None:
            bar.close()
        logger.close()


class _Logger:
    """CSV logs (always) and TensorBoard (when installed), on rank 0 only."""

    def __init__(self, run_dir: Path, active: bool, resume: bool) -> None:
        self.active = active
        self.writer = None
        self.files: dict[str, object] = {}
        if not active:
            return
        mode = "a" if resume else "w"
        self.train_file = open(run_dir / "log.csv", mode, newline="")
        self.valid_file = open(run_dir / "valid.csv", mode, newline="")
        self.train_csv = None
        self.valid_csv = csv.writer(self.valid_file)
        if mode == "w":
            self.valid_csv.writerow(["step", "psnr"])
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:  # tensorboard is optional: not a dependency of pdloss
            self.writer = None
            if not resume:
                print(
                    "pdloss train: TensorBoard events are off (the tensorboard package is not installed; "
                    "`pip install tensorboard` adds them in RUN/tensorboard/); the curves are in log.csv and valid.csv",
                    file=sys.stderr,
                )
        self.resume = resume

    def log_train(self, step: int, values: dict[str, float], lr: float, speed: float) -> None:
        if not self.active:
            return
        row = {"step": step, **values, "lr": lr, "steps_per_s": speed}
        if self.train_csv is None:
            self.train_csv = csv.DictWriter(self.train_file, fieldnames=list(row))
            if not self.resume or os.path.getsize(self.train_file.name) == 0:
                self.train_csv.writeheader()
        self.train_csv.writerow(row)
        self.train_file.flush()
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, step)
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/steps_per_s", speed, step)

    def log_valid(self, step: int, psnr: float) -> None:
        if not self.active:
            return
        self.valid_csv.writerow([step, f"{psnr:.4f}"])
        self.valid_file.flush()
        if self.writer is not None:
            self.writer.add_scalar("valid/psnr", psnr, step)

    def close(self) -> None:
        if not self.active:
            return
        self.train_file.close()
        self.valid_file.close()
        if self.writer is not None:
            self.writer.close()


def train(config: Config | dict, resume: bool = False, device: str | None = None, progress: bool = True) -> Path:
    """Train one run; returns its folder. Under torchrun every process calls this.

    The run folder's lock is taken first, before data and model are built: a second trainer on a
    folder in use fails at once (:class:`~pdloss.runs.lock.RunLockedError`) instead of after the
    minutes that building can take. Rank 0 holds it, the one writer under torchrun.
    """
    if isinstance(config, dict):
        config = config_from_dict(config)
    with run_lock(config.output, "train") if distributed.is_main_process() else nullcontext():
        trainer = Trainer(config, device=device, progress=progress)
        try:
            return trainer.run(resume=resume)
        finally:
            distributed.teardown(trainer.dist)
