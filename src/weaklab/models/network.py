"""A backbone plus one or more linear heads: the shape every method trains."""

from typing import cast

import torch
from torch import nn


class Network(nn.Module):
    """Backbone -> feature vector (B, F) -> `heads` independent linear heads.

    Several heads let methods such as co-training or tri-training share one
    feature extractor; with a single head `forward` returns a plain tensor.
    """

    def __init__(self, backbone: nn.Module, out_dim: int, heads: int = 1):
        super().__init__()
        if heads < 1:
            raise ValueError(f"heads must be >= 1, got {heads}")
        self.backbone = backbone
        self.out_dim = out_dim
        self.num_heads = heads
        # every backbone sets an int `out_features` (nn.Module's attribute lookup is typed for tensors and modules)
        in_features = cast(int, backbone.out_features)
        self.heads = nn.ModuleList([nn.Linear(in_features, out_dim) for _ in range(heads)])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the backbone's feature vectors, shape (B, F)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor):
        """Return logits (B, out_dim), or a tuple of them when there are several heads."""
        outs = self.head_outputs(x)
        return outs[0] if self.num_heads == 1 else outs

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The first head's outputs (B, out_dim): what is evaluated and predicted with, however many heads."""
        return self.heads[0](self.features(x))

    def head_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every head's outputs, always a tuple (one entry per head)."""
        f = self.features(x)
        return tuple(head(f) for head in self.heads)

    def sampled(self, x: torch.Tensor, passes: int) -> torch.Tensor:
        """`passes` stochastic (dropout) forward passes of the same inputs, (passes, B, out_dim), single head.

        Cheaper than `passes` calls, same distribution: the layers before the backbone's first dropout see the
        same inputs in every pass, so they run once; the rest runs once on the passes stacked into one batch
        (each sample draws its own dropout masks; BatchNorm in train mode normalises over them together).
        """
        prefix, rest = split_at_first_dropout(self.backbone)
        shared = prefix(x)
        stacked = shared.expand(passes, *shared.shape).reshape(passes * len(x), *shared.shape[1:])
        return self.heads[0](rest(stacked)).view(passes, len(x), -1)


def split_at_first_dropout(backbone: nn.Module) -> tuple[nn.Module, nn.Module]:
    """(deterministic prefix, rest) of a sequential backbone (`.net`); (identity, backbone) for any other."""
    layers = getattr(backbone, "net", None)
    if isinstance(layers, nn.Sequential):
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.modules.dropout._DropoutNd):
                return layers[:i], layers[i:]
    return nn.Identity(), backbone
