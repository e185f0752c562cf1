"""A two-hidden-layer MLP for flat feature vectors (tabular data, embeddings)."""

from torch import nn


class MLP(nn.Module):
    """Flatten -> 2 x (Linear -> BN -> LeakyReLU(0.1) -> Dropout); `width` features."""

    def __init__(self, in_features: int, width: int = 256, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_features
        for _ in range(2):
            # bias is redundant before BN
            layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.LeakyReLU(0.1), nn.Dropout(dropout)]
            d = width
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x):
        """Map inputs (B, *input_shape) to features (B, width)."""
        return self.net(x)
