"""Tests for weaklab.models: shapes, heads, dropout, auto choice, errors, gradients, sizes."""

import pytest
import torch

from weaklab.models import CNN13, MLP, WRN, SmallCNN, build_model

CASES = [
    ("cnn13", (3, 32, 32)),
    ("wrn28_2", (3, 32, 32)),
    ("small_cnn", (1, 8, 8)),
    ("small_cnn", (1, 28, 28)),
    ("mlp", (64,)),
]


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name,shape", CASES)
def test_output_shape_and_heads(name, shape):
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    model = build_model(name, input_shape=shape, out_dim=5).eval()
    y = model(x)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 5)
    assert model.features(x).shape == (2, model.backbone.out_features)

    model2 = build_model(name, input_shape=shape, out_dim=5, heads=2).eval()
    ys = model2(x)
    assert isinstance(ys, tuple) and len(ys) == 2
    assert all(y.shape == (2, 5) for y in ys)
    assert not torch.allclose(ys[0], ys[1])  # independently initialised heads
    assert model2.heads[0].weight.data_ptr() != model2.heads[1].weight.data_ptr()


def test_dropout_train_vs_eval():
    torch.manual_seed(0)
    model = build_model("small_cnn", input_shape=(1, 8, 8), out_dim=3, dropout=0.5)
    x = torch.randn(4, 1, 8, 8)
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("shape,cls", [((64,), MLP), ((1, 8, 8), SmallCNN), ((3, 32, 32), CNN13)])
def test_auto(shape, cls):
    model = build_model("auto", input_shape=shape, out_dim=2)
    assert type(model.backbone) is cls


def test_unknown_name_lists_valid():
    with pytest.raises(ValueError, match="resnet9") as err:
        build_model("resnet9", input_shape=(3, 32, 32), out_dim=10)
    for valid in ("cnn13", "wrn28_2", "small_cnn", "mlp"):
        assert valid in str(err.value)


def test_bad_inputs():
    with pytest.raises(ValueError, match="32x32.*small_cnn"):
        build_model("cnn13", input_shape=(1, 8, 8), out_dim=10)
    with pytest.raises(ValueError, match="image model"):
        build_model("small_cnn", input_shape=(64,), out_dim=10)


@pytest.mark.parametrize("name,shape", [("small_cnn", (1, 8, 8)), ("mlp", (20,))])
def test_gradients_reach_every_parameter(name, shape):
    torch.manual_seed(0)
    model = build_model(name, input_shape=shape, out_dim=3, heads=2).train()
    out = model(torch.randn(4, *shape))
    sum(o.sum() for o in out).backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, pname
            assert torch.isfinite(p.grad).all(), pname


def test_parameter_counts():
    wrn = build_model("wrn28_2", input_shape=(3, 32, 32), out_dim=10)
    assert isinstance(wrn.backbone, WRN)
    assert 1.40e6 < n_params(wrn) < 1.55e6
    cnn = build_model("cnn13", input_shape=(3, 32, 32), out_dim=10)
    assert 3.0e6 < n_params(cnn) < 3.2e6


def test_channels_last_and_autocast():
    model = build_model("small_cnn", input_shape=(3, 32, 32), out_dim=4).eval()
    x = torch.randn(2, 3, 32, 32)
    ref = model(x)
    model = model.to(memory_format=torch.channels_last)
    y = model(x.to(memory_format=torch.channels_last))
    assert torch.allclose(ref, y, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(x).shape == (2, 4)
