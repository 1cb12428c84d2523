"""torch.distributed plumbing for `bench run` under torchrun (one process per GPU, or several CPU processes with gloo).

- Initialisation from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT): NCCL on CUDA, gloo
  on CPU (`torchrun --standalone --nproc_per_node=2 --no-python bench run ...` works on a laptop).
- Each network of a method is wrapped in its own DistributedDataParallel with `broadcast_buffers=False`, as
  StyleGAN2-ADA does (one DDP over generator and critic together fails with "Expected to have finished reduction in
  the prior iteration", because each optimiser step uses only part of the parameters). Method code calls the critic
  inside the generator's loss through `unwrap(...)` so that no critic gradient is reduced there, and the gradient
  penalty is taken with `torch.autograd.grad` (`benchmark.losses.gan.gradient_penalty`), which DDP accepts.
- Only rank 0 writes files; `check_consistency` (StyleGAN2-ADA's `check_ddp_consistency`) verifies that every rank
  holds the same weights at the end of training.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from benchmark.methods import unwrap
from dataset_tools.errors import UserError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` = CUDA, then MPS, then CPU. Under torchrun with CUDA, process LOCAL_RANK uses GPU LOCAL_RANK."""
    if name not in ("auto", "cpu", "cuda", "mps"):
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or mps")
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda was requested but CUDA is not available on this machine")
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was requested but MPS is not available on this machine")
    return torch.device(name)


def init(device_name: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); otherwise a single process."""
    world = env_world_size()
    if world <= 1:
        return DistInfo(), select_device(device_name)
    info = DistInfo(rank=int(os.environ["RANK"]), world_size=world, local_rank=int(os.environ.get("LOCAL_RANK", 0)))
    device = select_device(device_name, info.local_rank)
    if device.type == "mps":
        raise UserError("distributed training on MPS is not supported; use --device cpu (gloo) or cuda (nccl)")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return info, device


def wrap_networks(networks: dict[str, torch.nn.Module], info: DistInfo, device: torch.device,
                  find_unused_parameters: bool = False) -> dict[str, torch.nn.Module]:
    """One DDP wrapper per network that has trainable parameters (frozen ones, e.g. a VGG, stay as they are)."""
    if not info.enabled:
        return networks
    from torch.nn.parallel import DistributedDataParallel as DDP

    import warnings

    out = {}
    for name, net in networks.items():
        if any(p.requires_grad for p in net.parameters()):
            with warnings.catch_warnings():  # torch 2.14 deprecates the name; its advice is to keep it for now
                warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
                out[name] = DDP(net, device_ids=[device.index] if device.type == "cuda" else None,
                                broadcast_buffers=False, find_unused_parameters=find_unused_parameters)
        else:
            out[name] = net
    return out


def unwrap_networks(networks: dict[str, torch.nn.Module]) -> dict[str, torch.nn.Module]:
    return {k: unwrap(v) for k, v in networks.items()}


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's `obj` on every rank (e.g. the run folder name chosen by rank 0)."""
    if not info.enabled:
        return obj
    box = [obj if info.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_mean(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if not info.enabled:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / info.world_size


def _tensor_digests(networks: dict[str, torch.nn.Module]) -> dict[str, tuple[str, bool]]:
    """{network.tensor: (sha256, is_parameter)} for every parameter and buffer."""
    out = {}
    for name in sorted(networks):
        net = unwrap(networks[name])
        params = {k for k, _ in net.named_parameters()}
        for key, t in sorted(net.state_dict().items()):
            data = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            out[f"{name}.{key}"] = (hashlib.sha256(data).hexdigest(), key in params)
    return out


def distribute_buffers(networks: dict[str, torch.nn.Module], info: DistInfo) -> None:
    """Average every floating-point buffer (BatchNorm running mean/var) over the ranks, in place, as timm's
    `distribute_bn(reduce=True)` does: with `broadcast_buffers=False` each rank updates its statistics from its own data
    shard, so they drift apart. Called before every checkpoint and at the end of training, so the saved (rank 0) and
    scored networks carry statistics of all the data and every rank holds the same buffers. Integer buffers (BN's
    `num_batches_tracked`) are equal on all ranks already (same number of steps)."""
    if not info.enabled:
        return
    for net in networks.values():
        for buf in unwrap(net).buffers():
            if buf.is_floating_point():
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf.div_(info.world_size)


def weights_digest(networks: dict[str, torch.nn.Module], parameters_only: bool = False) -> str:
    """sha256 over the parameters (and buffers unless `parameters_only`) of every network: equal = equal weights."""
    h = hashlib.sha256()
    for key, (digest, is_param) in _tensor_digests(networks).items():
        if is_param or not parameters_only:
            h.update(key.encode())
            h.update(digest.encode())
    return h.hexdigest()


def check_consistency(networks: dict[str, torch.nn.Module], info: DistInfo) -> dict[str, Any]:
    """StyleGAN2-ADA's `check_ddp_consistency`: every rank's parameters must be identical (raises otherwise, naming
    the tensors). Buffers (e.g. BatchNorm running statistics) are compared too but only reported: the trainer
    averages them over the ranks at every checkpoint (`distribute_buffers`), so a difference means a bug.
    Returns {"parameters": [digest per rank], "buffers_differ": [tensor names]}."""
    mine = _tensor_digests(networks)
    if not info.enabled:
        return {"parameters": [weights_digest(networks, parameters_only=True)], "buffers_differ": []}
    everyone: list[Any] = [None] * info.world_size
    dist.all_gather_object(everyone, mine)
    differ_params = sorted(k for k, (d, is_p) in mine.items() if is_p and any(o[k][0] != d for o in everyone))
    differ_bufs = sorted(k for k, (d, is_p) in mine.items() if not is_p and any(o[k][0] != d for o in everyone))
    if differ_params:
        raise RuntimeError(f"DDP ranks hold different parameters after training ({len(differ_params)} tensors, e.g. "
                           f"{', '.join(differ_params[:5])}); a network was probably updated outside its DDP wrapper")
    digests = []
    for o in everyone:
        h = hashlib.sha256()
        for key, (digest, is_param) in o.items():
            if is_param:
                h.update(key.encode())
                h.update(digest.encode())
        digests.append(h.hexdigest())
    return {"parameters": digests, "buffers_differ": differ_bufs}


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
