"""A small CNN for tiny images (8x8 digits, 28x28 MNIST-like) where CNN-13 does not fit."""

from torch import nn


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 same conv -> BN -> LeakyReLU(0.1)."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1)]


class SmallCNN(nn.Module):
    """Two conv blocks with pooling, one more conv, global average pool; 4*width features."""

    def __init__(self, in_channels: int = 1, width: int = 32, dropout: float = 0.5):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            *conv_bn(in_channels, w),
            *conv_bn(w, w),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            *conv_bn(w, 2 * w),
            *conv_bn(2 * w, 2 * w),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            *conv_bn(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out_features = 4 * w

    def forward(self, x):
        """Map images (B, C, H, W) with H, W >= 4 to features (B, 4*width)."""
        return self.net(x)
