"""He (Kaiming) initialisation of convolutions and unit BatchNorm, as the residual-network papers use."""

from typing import Literal

from torch import nn


def kaiming_init(model: nn.Module, nonlinearity: Literal["relu", "leaky_relu"]) -> None:
    """Conv weights ~ He normal (fan-out, for `nonlinearity`); BatchNorm scale 1, shift 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity=nonlinearity)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
