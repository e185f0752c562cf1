"""LeNet for 28×28 grey images (Fashion-MNIST, Kuzushiji-MNIST), the partial-label papers' small network:
conv5×5(20) → max-pool → conv5×5(50) → max-pool → fc(500) → ReLU; the head is the Network's linear layer."""

from torch import nn


class LeNet(nn.Module):
    def __init__(self, in_channels: int = 1, image_size: tuple[int, ...] = (28, 28), dropout: float = 0.0):
        super().__init__()
        h, w = [((s - 4) // 2 - 4) // 2 for s in image_size]  # two valid 5×5 convs, two 2×2 pools
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(50 * h * w, 500),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.out_features = 500

    def forward(self, x):
        """Map images (B, C, H, W), H, W >= 16, to features (B, 500)."""
        return self.net(x)
