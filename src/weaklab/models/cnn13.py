"""CNN-13 ("Conv-Large") of the Pi-model, Temporal Ensembling and Mean Teacher papers."""

from torch import nn


def conv_bn(c_in: int, c_out: int, k: int, padding: int) -> list[nn.Module]:
    """conv -> BN -> LeakyReLU(0.1); bias is redundant before BN."""
    return [nn.Conv2d(c_in, c_out, k, padding=padding, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1)]


class CNN13(nn.Module):
    """The 13-layer CNN standard in semi-supervised learning on 32x32 images; 128 features."""

    def __init__(self, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        layers = []
        layers += conv_bn(in_channels, 128, 3, 1) + conv_bn(128, 128, 3, 1) + conv_bn(128, 128, 3, 1)
        layers += [nn.MaxPool2d(2), nn.Dropout(dropout)]
        layers += conv_bn(128, 256, 3, 1) + conv_bn(256, 256, 3, 1) + conv_bn(256, 256, 3, 1)
        layers += [nn.MaxPool2d(2), nn.Dropout(dropout)]
        # valid conv: 8x8 -> 6x6 on 32x32 input, as in the original
        layers += conv_bn(256, 512, 3, 0) + conv_bn(512, 256, 1, 0) + conv_bn(256, 128, 1, 0)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_features = 128

    def forward(self, x):
        """Map images (B, C, H, W) to features (B, 128)."""
        return self.net(x)
