"""WRN-28-2: the wide residual network used by most semi-supervised benchmarks."""

from torch import nn

from .init import kaiming_init


class WideBlock(nn.Module):
    """Pre-activation wide basic block: BN-act-conv3x3, BN-act-dropout-conv3x3, plus shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.act = nn.LeakyReLU(0.1)
        # 1x1 projection only where the shape changes; identity otherwise
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x):
        """Residual update of x (downsampled/projected when the shape changes)."""
        o = self.act(self.bn1(x))
        y = self.conv1(o)
        y = self.conv2(self.drop(self.act(self.bn2(y))))
        # the projection reads the pre-activated input, as in the original WRN
        return y + (x if self.shortcut is None else self.shortcut(o))


class WRN(nn.Module):
    """Wide ResNet of depth 6n+4 and widen factor k; 64*k features."""

    def __init__(self, in_channels: int = 3, depth: int = 28, widen: int = 2, dropout: float = 0.0):
        super().__init__()
        assert (depth - 4) % 6 == 0, "WRN depth must be 6n+4"
        n = (depth - 4) // 6
        widths = [16 * widen, 32 * widen, 64 * widen]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)]
        c = 16
        for w, stride in zip(widths, (1, 2, 2)):
            for i in range(n):
                layers.append(WideBlock(c, w, stride if i == 0 else 1, dropout))
                c = w
        layers += [nn.BatchNorm2d(c), nn.LeakyReLU(0.1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_features = c
        kaiming_init(self, "leaky_relu")

    def forward(self, x):
        """Map images (B, C, H, W) to features (B, 64*widen)."""
        return self.net(x)
