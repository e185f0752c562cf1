"""Several processes, one run: data-parallel training under torchrun, without wrapping the networks.

`torchrun --nproc-per-node N --no-python weaklab train ...` starts N processes with RANK, LOCAL_RANK and
WORLD_SIZE set; `World.from_env()` joins the process group (gloo on CPU, nccl on CUDA). The run is the same
whatever N is, because each rank

- takes a disjoint share of every global batch: columns r·B/N … (r+1)·B/N of the epoch's index plan, for the
  labeled and the unlabeled stream (B_lb and B_ulb must be divisible by N); losses are means over the local
  share, so averaging the gradients gives the gradient of the global batch;
- averages the gradients of the trainable parameters with one flat all-reduce after backward. Not
  DistributedDataParallel: methods own several networks (student and EMA teacher, two models) and call them
  inside training_step; wrapping each would rename checkpoint keys and tie every forward to a DDP module,
  while one all-reduce over `method.trainable_parameters()` works for any method unchanged;
- gathers the per-sample state a step wrote (`Method.sample_state`: buffer name -> which batch rows it
  writes), so every rank holds the same buffers (Temporal Ensembling's epoch outputs, pseudo-labels, ...), and
  averages the running statistics a step updated (`Method.averaged_state`: FreeMatch's and SoftMatch's EMAs);
- averages BatchNorm running statistics before each evaluation (their batch statistics are per rank unless
  train.sync_batchnorm is on), then checks that every rank holds the same weights and buffers;
- draws its own augmentations and dropout (generators seeded from seed, rank and step; their states are
  gathered into checkpoints, so a resume with the same N continues exactly and one with another N reseeds);

and only rank 0 writes logs, plots and checkpoints. A checkpoint holds no trace of N, so a run resumes with any N.
"""

from __future__ import annotations

import datetime
import os
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ..errors import WeaklabError

M = TypeVar("M", bound=nn.Module)


class World:
    """One process of the run: rank, size and the collectives the trainer needs. Size 1: all no-ops."""

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0, device: str = "cpu"):
        self.rank, self.size, self.local_rank = rank, size, local_rank
        self.device = torch.device(device)  # where collectives on host values run (nccl needs CUDA tensors)

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto") -> World:
        """Join the process group torchrun describes in the environment; a plain launch is a world of one."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        if use_cuda:
            torch.cuda.set_device(local_rank)  # "cuda" now means this process's GPU
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30))
        return cls(rank, size, local_rank, f"cuda:{local_rank}" if use_cuda else "cpu")

    def close(self) -> None:
        if self.active and dist.is_initialized():
            # Every rank leaves together: a rank that tears gloo down while its peer still holds the connection
            # can abort the peer ("terminate called without an active exception", seen in tests/test_distributed.py
            # about one run in two). Where a peer is gone or stuck, the barrier gives up and the group is destroyed.
            # (gloo only: NCCL has no barrier with a timeout, and a plain one could hang a failing run.)
            if dist.get_backend() == "gloo":
                try:
                    dist.monitored_barrier(timeout=datetime.timedelta(seconds=30))
                except RuntimeError:
                    pass
            dist.destroy_process_group()

    # --- the batch ---------------------------------------------------------------------------------------

    def check_batch(self, batch_labeled: int, batch_unlabeled: int) -> None:
        if batch_labeled % self.size or batch_unlabeled % self.size:
            raise WeaklabError(
                f"with {self.size} processes, train.batch_labeled ({batch_labeled}) and train.batch_unlabeled "
                f"({batch_unlabeled}) must both be divisible by {self.size}: they are global batch sizes"
            )

    def shard(self, plan: torch.Tensor) -> torch.Tensor:
        """This rank's columns of a (steps × global batch) index plan."""
        if not self.active:
            return plan
        share = plan.shape[1] // self.size
        return plan[:, self.rank * share : (self.rank + 1) * share]

    # --- the step ----------------------------------------------------------------------------------------

    def prepare(self, method: M, sync_batchnorm: bool) -> M:
        """Same initial weights on every rank; BatchNorm synchronised if asked. Call before building the optimizer."""
        if not self.active:
            return method
        if sync_batchnorm:
            convert_sync_batchnorm(method)
        with torch.no_grad():
            for t in [*method.parameters(), *method.buffers()]:
                dist.broadcast(t.data, 0)
        return method

    def average_gradients(self, params) -> None:
        """Mean of every rank's gradients, in one flat all-reduce (a missing gradient counts as zero)."""
        if not self.active:
            return
        params = [p for p in params if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in params]
        flat = torch._utils._flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.size
        torch._foreach_copy_(grads, torch._utils._unflatten_dense_tensors(flat, grads))

    def sync_sample_state(self, method: nn.Module, batch) -> None:
        """Gather the rows of per-sample buffers that each rank's step wrote, so all ranks hold the same state."""
        if not self.active:
            return
        for name, stream in getattr(method, "sample_state", {}).items():
            rows = {"labeled": batch.idx_lb, "unlabeled": batch.idx_ulb, "all": batch.all_idx()}[stream]
            if rows is None:
                continue
            buffer = method.get_buffer(name)
            all_rows = self._gather(rows)
            values = buffer[rows]
            as_int = values.dtype == torch.bool  # gloo has no bool collectives
            all_values = self._gather(values.to(torch.uint8) if as_int else values)
            buffer[all_rows] = all_values.to(buffer.dtype)
        # Running statistics each rank updated from its own share (an EMA is linear in its input, so the mean of
        # the ranks' updated values is the update with the mean of their batch statistics)
        for name in getattr(method, "averaged_state", ()):
            buffer = method.get_buffer(name)
            dist.all_reduce(buffer)
            buffer /= self.size

    def _gather(self, t: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)

    # --- evaluation and bookkeeping ----------------------------------------------------------------------

    def average_batchnorm(self, method: nn.Module) -> None:
        """Mean of the ranks' BatchNorm running statistics, so every rank evaluates and saves the same model."""
        if not self.active:
            return
        for m in method.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                for t in (m.running_mean, m.running_var):
                    if t is not None:
                        dist.all_reduce(t)
                        t /= self.size

    def check_in_sync(self, method: nn.Module) -> None:
        """Raise if a rank's weights or buffers drifted from the others' (a per-sample buffer nobody gathers)."""
        if not self.active:
            return
        named = [*method.named_parameters(), *method.named_buffers()]
        sums = torch.stack([t.detach().double().sum() for _, t in named])
        low, high = sums.clone(), sums.clone()
        dist.all_reduce(low, dist.ReduceOp.MIN)
        dist.all_reduce(high, dist.ReduceOp.MAX)
        drifted = [n for (n, _), lo, hi in zip(named, low.tolist(), high.tolist()) if lo != hi]
        if drifted:
            raise WeaklabError(
                f"ranks hold different values of {', '.join(drifted[:5])}: a per-sample buffer written in "
                "training_step must be listed in the method's sample_state so the engine gathers it"
            )

    def mean_scalars(self, values: dict[str, float]) -> dict[str, float]:
        """Logged training averages over all ranks' shares of the batches."""
        if not self.active or not values:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return dict(zip(values, (t / self.size).tolist()))

    def max_int(self, value: torch.Tensor) -> torch.Tensor:
        if self.active:
            value = value.clone()
            dist.all_reduce(value, dist.ReduceOp.MAX)
        return value

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def raise_together(self, error: str | None) -> None:
        """Rank 0's error (None: none) raised as a WeaklabError on every rank, so no rank waits for the others."""
        if self.active:
            shared = [error]
            dist.broadcast_object_list(shared, src=0)
            error = shared[0]
        if error is not None:
            raise WeaklabError(error)

    # --- randomness --------------------------------------------------------------------------------------

    def seed(self, views, seed: int, step: int) -> None:
        """Per-rank augmentation and dropout streams, a function of (seed, rank, step) only."""
        if not self.active:
            return
        s = (seed * 1_000_003 + step) * 1009 + self.rank
        views.generator.manual_seed(s)
        torch.manual_seed(s + 1)

    def rng_states(self, views) -> list[dict] | None:
        """Every rank's generator states (collective), for the checkpoint; None for one process."""
        if not self.active:
            return None
        mine = {"views": views.generator.get_state().cpu(), "cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            mine["cuda"] = torch.cuda.get_rng_state()
        states: list = [None] * self.size
        dist.all_gather_object(states, mine)
        return states

    def restore_rng(self, states: list[dict] | None, views, seed: int, step: int) -> None:
        """Same N as the checkpoint: each rank continues its own streams; another N: reseed deterministically."""
        if not self.active:
            return
        if states is None or len(states) != self.size:
            self.seed(views, seed, step)
            return
        mine = states[self.rank]
        views.generator.set_state(mine["views"])
        torch.set_rng_state(mine["cpu"])
        if "cuda" in mine and torch.cuda.is_available():
            torch.cuda.set_rng_state(mine["cuda"])


SINGLE = World()


class NoLogger:
    """What ranks other than 0 write: nothing."""

    def write(self, record: dict) -> None:
        pass

    def close(self) -> None:
        pass


# --- synchronised BatchNorm -----------------------------------------------------------------------------


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch, for CPU (gloo) runs, where
    torch.nn.SyncBatchNorm does not work. Sums and squared sums are all-reduced with autograd, so gradients
    flow through the global statistics exactly as in one process on the whole batch."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        c, shape = x.shape[1], [1, x.shape[1]] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() / c], dtype=x.dtype)
        stats = _AllReduceSum.apply(torch.cat([x.sum(dims), count]))  # two passes: mean, then squared deviations
        n = stats[-1]
        mean = stats[:c] / n
        var = _AllReduceSum.apply(((x - mean.view(shape)) ** 2).sum(dims)) / n
        if self.track_running_stats:
            # tracked statistics: the three buffers exist
            assert (
                self.num_batches_tracked is not None and self.running_mean is not None and self.running_var is not None
            )
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum over ranks is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, t):
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def convert_sync_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm in place: torch's SyncBatchNorm on CUDA, CPUSyncBatchNorm elsewhere."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            on_cuda = child.running_mean is not None and child.running_mean.is_cuda
            cls = nn.SyncBatchNorm if on_cuda else CPUSyncBatchNorm
            new = cls(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            new.load_state_dict(child.state_dict())
            for p_new, p_old in zip(new.parameters(), child.parameters()):
                p_new.requires_grad_(p_old.requires_grad)  # a teacher's BatchNorm stays frozen
            new.to(child.running_mean.device if child.running_mean is not None else "cpu")
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child)
