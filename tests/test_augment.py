"""Strong augmentation: each op on a known image, identities at magnitude 0, per-sample randomness."""

import pytest
import torch

from weaklab.data.views import augment


def image(b=2, c=3, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (b, c, h, w), generator=g) / 255).float()


def test_cutout_zeroes_exactly_the_box():
    x = torch.ones(2, 3, 10, 10)
    out = augment.cutout(x, torch.tensor([[5, 5], [0, 9]]), 4)
    expected = torch.ones(2, 3, 10, 10)
    expected[0, :, 3:7, 3:7] = 0
    expected[1, :, 0:2, 7:10] = 0  # clipped at the border
    assert torch.equal(out, expected)


@pytest.mark.parametrize(
    "name",
    [
        "ShearX",
        "ShearY",
        "TranslateX",
        "TranslateY",
        "Rotate",
        "Color",
        "Contrast",
        "Brightness",
        "Sharpness",
        "Posterize",
        "Solarize",
    ],
)
def test_ops_at_magnitude_zero_are_identity(name):
    x = image()
    level, sign = torch.zeros(2), torch.ones(2)
    m = augment.magnitude(name, level, sign, x.shape[-2:])
    out = augment.OPS[name][0](x, m)
    assert torch.allclose(out, x, atol=1 / 255 + 1e-6), name


def test_ops_on_a_known_image():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, :, 0] = 1.0  # a white left column
    one = torch.ones(1)
    assert torch.equal(augment.invert(x), 1 - x)
    shifted = augment.translate_x(x, one)  # out(c) = in(c + 1): the column leaves, grey fills the right edge
    assert torch.allclose(shifted[0, 0, :, :3], torch.zeros(4, 3)) and torch.allclose(
        shifted[0, 0, :, 3], torch.full((4,), augment.FILL)
    )
    down = augment.translate_y(x, -one)
    assert torch.allclose(down[0, 0, 1:, 0], torch.ones(3)) and torch.allclose(
        down[0, 0, 0], torch.full((4,), augment.FILL)
    )
    turned = augment.rotate(x, torch.full((1,), 90.0))  # the left column becomes a row
    assert turned[0, 0].sum() == 4 and (turned[0, 0] == 1).any(1).sum() == 1
    sol = augment.solarize(torch.tensor([[[[51 / 255, 204 / 255]]]]), torch.tensor([128.0]))
    assert torch.allclose(sol, torch.tensor([[[[51 / 255, 51 / 255]]]]))
    post = augment.posterize(torch.tensor([[[[200 / 255]]]]), torch.tensor([4.0]))
    assert torch.allclose(post, torch.tensor([[[[192 / 255]]]]))
    assert torch.allclose(
        augment.brightness(torch.full((1, 1, 2, 2), 0.4), torch.tensor([0.5])), torch.full((1, 1, 2, 2), 0.2)
    )
    low = torch.tensor([[[[0.2, 0.4], [0.4, 0.6]]]])
    assert torch.allclose(augment.auto_contrast(low), torch.tensor([[[[0.0, 0.5], [0.5, 1.0]]]]))
    grey = torch.full((1, 3, 2, 2), 0.5)
    assert torch.allclose(augment.color(grey, torch.tensor([0.1])), grey)  # a grey image has no colour to change


def test_equalize_matches_pil():
    pil = pytest.importorskip("PIL.ImageOps")
    from PIL import Image

    x = image(1, 1, 16, 16, seed=3) * 0.5  # a narrow histogram that equalisation spreads
    ours = augment.equalize(x)
    import numpy as np

    ref = torch.tensor(np.array(pil.equalize(Image.fromarray((x[0, 0] * 255).round().byte().numpy(), "L")))).flatten()
    assert torch.equal((ours[0, 0] * 255).round().long().flatten(), ref.long())


def test_policies_draw_per_sample():
    x = image(64, 3, 8, 8).mean(0, keepdim=True).expand(64, 3, 8, 8).contiguous()  # 64 copies of one image
    g = torch.Generator().manual_seed(0)
    for policy in (
        augment.AutoAugment(augment.CIFAR10_POLICY),
        augment.AutoAugment(augment.SVHN_POLICY),
        augment.RandAugment(2, 10),
    ):
        out = policy(x, g)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        distinct = len({tuple(o.flatten().tolist()) for o in out})
        assert distinct > 10  # one batch, many different augmentations
    out = augment.random_cutout(torch.ones(64, 1, 8, 8), 4, g)
    assert len({tuple(o.flatten().tolist()) for o in out}) > 10


def test_policies_are_the_papers():
    assert len(augment.CIFAR10_POLICY) == 25 and len(augment.SVHN_POLICY) == 25
    assert augment.CIFAR10_POLICY[0] == (("Invert", 0.1, 7), ("Contrast", 0.2, 6))
    assert augment.SVHN_POLICY[0] == (("ShearX", 0.9, 4), ("Invert", 0.2, 3))
    assert len(augment.RANDAUGMENT_OPS) == 14


@pytest.mark.parametrize(
    "name, factor",
    [
        ("Contrast", 1.6),
        ("Color", 0.4),
        ("Sharpness", 1.8),
        ("Brightness", 1.3),
        ("AutoContrast", None),
        ("Posterize", 5.0),
        ("Solarize", 100.0),
    ],
)
def test_pixel_ops_match_pil(name, factor):
    pytest.importorskip("PIL")
    import numpy as np
    from PIL import Image, ImageEnhance, ImageOps

    x = ((image(1, 3, 12, 12, seed=4) * 0.6 + 0.2) * 255).round() / 255  # an 8-bit image, as PIL holds it
    pil = Image.fromarray((x[0].permute(1, 2, 0) * 255).round().byte().numpy(), "RGB")
    ref = {
        "Contrast": lambda: ImageEnhance.Contrast(pil).enhance(factor),
        "Color": lambda: ImageEnhance.Color(pil).enhance(factor),
        "Sharpness": lambda: ImageEnhance.Sharpness(pil).enhance(factor),
        "Brightness": lambda: ImageEnhance.Brightness(pil).enhance(factor),
        "AutoContrast": lambda: ImageOps.autocontrast(pil),
        "Posterize": lambda: ImageOps.posterize(pil, int(factor)),
        "Solarize": lambda: ImageOps.solarize(pil, int(factor)),
    }[name]()
    ref = torch.tensor(np.array(ref)).permute(2, 0, 1).float()
    ours = augment.OPS[name][0](x, torch.tensor([factor if factor is not None else 0.0])) * 255
    assert (ours[0] - ref).abs().max() <= 1.5, name  # PIL rounds the degenerate image and the result to 8 bits


def test_strong_view_runs_on_normalised_batches():
    from weaklab.data.store.device import Normalizer
    from weaklab.data.views.pipeline import Views

    raw = (image(16, 3, 32, 32) * 255).round()
    norm = Normalizer.fit(raw.numpy())
    views = Views(
        4,
        True,
        0.0,
        "cpu",
        seed=0,
        policy=augment.AutoAugment(augment.CIFAR10_POLICY),
        cutout=16,
        normalizer=norm,
        pixel_max=255.0,
    )
    x = norm(raw)
    out = views.strong(x)
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.equal(out, x)
    assert ((out == 0).flatten(1).sum(1) >= 3 * 8 * 8).all()  # every image has its Cutout box (at least a corner)


def test_random_erasing_zeroes_one_rectangle_of_the_asked_area():
    from weaklab.data.views.augment import random_erasing

    g = torch.Generator().manual_seed(0)
    x = torch.ones(256, 1, 20, 20)
    assert torch.equal(random_erasing(x, 0.0, (0.02, 0.33), g), x)  # p = 0: identity
    out = random_erasing(x, 1.0, (0.1, 0.2), g)
    zero = out[:, 0] == 0
    area = zero.float().mean((1, 2))
    assert (area > 0.05).all() and (area < 0.3).all()  # rounding the sides moves the share a little
    for mask in zero[:16]:  # one filled rectangle: its bounding box holds only zeros
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
    assert len({tuple(m.flatten().tolist()) for m in zero[:32]}) > 16  # drawn per image
    half = random_erasing(x, 0.5, (0.1, 0.2), g)
    erased = (half[:, 0] == 0).any((1, 2)).float().mean()
    assert 0.35 < erased < 0.65


@pytest.mark.parametrize(
    "policy",
    [
        lambda: augment.AutoAugment(augment.CIFAR10_POLICY),
        lambda: augment.AutoAugment(augment.SVHN_POLICY),
        lambda: augment.RandAugment(2, 10, random_magnitude=True),
    ],
)
def test_the_sync_free_path_gives_the_same_images_as_the_grouped_one(policy, monkeypatch):
    """On a GPU every op runs on the whole batch (no host sync); on a CPU only on its samples. Same draws, same
    images, bit for bit."""
    x = image(b=64, c=3, h=16, w=16)
    grouped = policy()(x, torch.Generator().manual_seed(1))
    monkeypatch.setattr(augment, "GROUP_ON_CPU", False)
    everywhere = policy()(x, torch.Generator().manual_seed(1))
    assert not torch.equal(grouped, x)
    assert torch.equal(grouped, everywhere)
