"""ResNet-18 and ResNet-50 (He et al. 2016) with torchvision's parameter and buffer names.

Every name matches torchvision's `resnet18` / `resnet50` (conv1, bn1, layer1.0.conv1, ..., downsample.0/1,
fc), so a torchvision weight file loads by name (models/pretrained.py). As a weaklab backbone the network
stops at the pooled feature (`num_classes=None`, no `fc`) and the `Network` heads classify; with
`num_classes` it carries torchvision's `fc` too. Bottleneck blocks stride in their 3×3 conv (torchvision's
"v1.5"). `dropout` is applied after each residual stage and before the head (MC dropout for UCVME): after
layer1..3, and once on the pooled output of layer4, which is the head's input. Dropout holds no parameters,
so names are unchanged.
"""

from __future__ import annotations

from torch import nn

from .init import kaiming_init


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(c_in, width * self.expansion, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(c_in, width * self.expansion, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


def _downsample(c_in: int, c_out: int, stride: int):
    """1×1 projection + BN where the shape changes (torchvision's `downsample.0` / `downsample.1`)."""
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))


class ResNet(nn.Module):
    def __init__(
        self, block, layers: list[int], in_channels: int = 3, dropout: float = 0.0, num_classes: int | None = None
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c = 64
        for i, (width, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            stage = []
            for j in range(blocks):
                stage.append(block(c, width, stride=2 if (i > 0 and j == 0) else 1))
                c = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)  # one module reused after each stage: no parameters, no names
        self.out_features = c
        self.fc = nn.Linear(c, num_classes) if num_classes is not None else None
        kaiming_init(self, "relu")

    def forward(self, x):
        """Images (B, C, H, W) → pooled features (B, out_features), or logits when built with `num_classes`."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in (self.layer1, self.layer2, self.layer3):
            x = self.dropout(stage(x))
        # the last stage's dropout acts on its pooled output, which is also the head's input (applied once)
        x = self.dropout(self.avgpool(self.layer4(x)).flatten(1))
        return x if self.fc is None else self.fc(x)


def resnet18(in_channels: int = 3, dropout: float = 0.0, num_classes: int | None = None) -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2], in_channels, dropout, num_classes)


def resnet50(in_channels: int = 3, dropout: float = 0.0, num_classes: int | None = None) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3], in_channels, dropout, num_classes)
