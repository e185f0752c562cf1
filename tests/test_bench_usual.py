"""The usual pipeline's per-sample views: the same ops as the batched device views, one PIL image at a time."""

import numpy as np
import pytest
import torch
from PIL import Image

from weaklab.bench import usual as bench_usual
from weaklab.data.views import augment
from weaklab.errors import WeaklabError


@pytest.mark.parametrize("name", augment.NAMES)
def test_each_pil_op_is_the_batched_op(name):
    """Both follow PIL's definitions: the per-sample op gives the device op's pixels (within one 8-bit step)."""
    x = np.random.default_rng(1).integers(0, 256, size=(3, 3, 16, 16), dtype=np.uint8)
    k = augment.NAMES.index(name)
    for level, sign in ((0.7, 1.0), (0.3, -1.0), (1.0, 1.0)):
        batched = augment.apply_ops(
            torch.as_tensor(x).float() / 255,
            torch.full((3,), k),
            torch.full((3,), level),
            torch.full((3,), sign),
            torch.ones(3, dtype=torch.bool),
        )
        per_sample = np.stack(
            [np.asarray(bench_usual.pil_op(name, Image.fromarray(i.transpose(1, 2, 0)), level, sign)) for i in x]
        ).transpose(0, 3, 1, 2)
        assert np.abs((batched * 255).round().numpy() - per_sample).max() <= 1, (name, level, sign)


def test_pil_policies_read_the_batched_policy_and_run_on_grey_and_colour():
    auto = bench_usual.PilPolicy(augment.AutoAugment(augment.CIFAR10_POLICY))
    assert auto.subpolicies[0] == [
        ("Invert", pytest.approx(0.1), pytest.approx(7 / 9)),
        ("Contrast", pytest.approx(0.2), pytest.approx(6 / 9)),
    ]
    rand = bench_usual.PilPolicy(augment.RandAugment(2, 10))
    assert rand.rand_n == 2 and rand.level == pytest.approx(1 / 3) and rand.choices == augment.RANDAUGMENT_OPS
    rng = np.random.default_rng(0)
    for shape in ((8, 8, 3), (8, 8)):
        img = Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8))
        outs = [np.asarray(policy(img, rng)) for policy in (auto, rand) for _ in range(20)]
        assert all(o.shape == shape for o in outs)
        assert len({o.tobytes() for o in outs}) > 5  # drawn per call
    with pytest.raises(WeaklabError, match="no per-sample version"):
        bench_usual.PilPolicy(object())


def test_views_in_the_asked_order_weak_and_strong():
    x = np.random.default_rng(0).integers(0, 256, size=(3, 3, 6, 6), dtype=np.uint8)
    mean, std = np.array([100.0, 120.0, 90.0]), np.array([50.0, 60.0, 70.0])
    m, s = torch.tensor(mean).view(3, 1, 1).float(), torch.tensor(std).view(3, 1, 1).float()
    expected = (torch.as_tensor(x[1], dtype=torch.float32) - m) / s
    plain = bench_usual.PerSampleViews(x, ["weak", "strong"], pad=0, flip=False, noise=0.0, mean=mean, std=std)
    views, i = plain[1]
    assert views.shape == (2, 3, 6, 6) and i == 1
    torch.testing.assert_close(views[0], expected)
    torch.testing.assert_close(views[1], expected)  # no policy, no Cutout: the strong view is the image too
    noisy = bench_usual.PerSampleViews(x, ["weak", "strong"], pad=0, flip=False, noise=0.5, mean=mean, std=std)[1][0]
    assert not torch.equal(noisy[0], expected) and torch.equal(noisy[1], expected)  # noise is weak-only
    shifted = bench_usual.PerSampleViews(x, ["weak"] * 8, pad=2, flip=True, noise=0.0, mean=mean, std=std)[1][0]
    assert not all(torch.equal(v, expected) for v in shifted)  # pad-crop and flip do change views
    cutting = bench_usual.PerSampleViews(x, ["strong"] * 8, pad=0, flip=False, noise=0.0, mean=mean, std=std, cutout=2)
    cut = cutting[1][0]
    for v in cut:
        zeroed = (v == 0).all(0)
        assert 1 <= zeroed.sum() <= 4 and torch.equal(v[:, ~zeroed], expected[:, ~zeroed])  # one clipped 2×2 square
    policy = augment.AutoAugment(augment.SVHN_POLICY)
    strong = bench_usual.PerSampleViews(
        x, ["strong"] * 8, pad=0, flip=False, noise=0.0, mean=mean, std=std, policy=policy
    )[1][0]
    assert not all(torch.equal(v, expected) for v in strong)
    with pytest.raises(WeaklabError, match="weak or strong"):
        bench_usual.PerSampleViews(x, ["medium"], pad=0, flip=False, noise=0.0, mean=mean, std=std)


def test_replay_hands_views_in_order_and_checks_their_kind():
    lb, ulb = torch.randn(3, 2, 1, 4, 4), torch.randn(3, 5, 1, 4, 4)
    replay = bench_usual.ReplayViews(["weak", "strong", "strong"], lb, ulb)
    assert torch.equal(replay(torch.zeros(7, 1, 4, 4)), torch.cat([lb[0], ulb[0]]))
    assert torch.equal(replay.strong(torch.zeros(2, 1, 4, 4)), lb[1])
    assert torch.equal(replay.strong(torch.zeros(5, 1, 4, 4)), ulb[2])
    with pytest.raises(WeaklabError, match="asked for a strong view where its first step asked for a weak"):
        replay.strong(torch.zeros(2, 1, 4, 4))
