"""ResNet-18/50 with torchvision names, and `--pretrained` weight loading with its report and refusals."""

import pytest
import torch

from weaklab.errors import WeaklabError
from weaklab.models import build_model, resnet18, resnet50
from weaklab.models.pretrained import describe, load_pretrained

# Names and shapes torchvision's resnet18 / resnet50 (1000 classes) use, written out by hand.
TORCHVISION_R18 = {
    "conv1.weight": (64, 3, 7, 7),
    "bn1.running_mean": (64,),
    "bn1.num_batches_tracked": (),
    "layer1.0.conv1.weight": (64, 64, 3, 3),
    "layer2.0.downsample.0.weight": (128, 64, 1, 1),
    "layer2.0.downsample.1.running_var": (128,),
    "layer3.0.conv1.weight": (256, 128, 3, 3),
    "layer4.1.bn2.running_var": (512,),
    "fc.weight": (1000, 512),
    "fc.bias": (1000,),
}
TORCHVISION_R50 = {
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer2.0.conv2.weight": (128, 128, 3, 3),  # v1.5: the stride sits in the 3×3 conv
    "layer3.5.bn3.weight": (1024,),
    "layer4.2.conv3.weight": (2048, 512, 1, 1),
    "fc.weight": (1000, 2048),
}


@pytest.mark.parametrize(
    "make,expected,params,tensors",
    [
        (resnet18, TORCHVISION_R18, 11_689_512, 122),
        (resnet50, TORCHVISION_R50, 25_557_032, 320),
    ],
)
def test_names_shapes_and_sizes_match_torchvision(make, expected, params, tensors):
    state = make(num_classes=1000).state_dict()
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape, name
    assert len(state) == tensors  # torchvision's state_dict sizes
    assert sum(p.numel() for p in make(num_classes=1000).parameters()) == params


def test_backbone_features_dropout_and_errors():
    net = build_model("resnet18", input_shape=(3, 32, 32), out_dim=7, dropout=0.5)
    x = torch.randn(2, 3, 32, 32)
    assert net.features(x).shape == (2, 512) and net(x).shape == (2, 7)
    assert "fc.weight" not in net.backbone.state_dict()
    net.train()
    assert not torch.equal(net(x), net(x))  # dropout active in training mode
    net.eval()
    assert torch.equal(net(x), net(x))
    assert build_model("resnet50", input_shape=(1, 8, 8), out_dim=3).features(torch.randn(2, 1, 8, 8)).shape == (
        2,
        2048,
    )
    with pytest.raises(ValueError, match="fixed widths"):
        build_model("resnet18", input_shape=(3, 32, 32), out_dim=3, width=4)


def torchvision_file(tmp_path, wrap=lambda s: s, name="r18.pth"):
    torch.manual_seed(1)
    state = resnet18(num_classes=1000).state_dict()
    path = tmp_path / name
    torch.save(wrap(state), path)
    return path, state


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: s,
        lambda s: {"module." + k: v for k, v in s.items()},
        lambda s: {"state_dict": {"module." + k: v for k, v in s.items()}, "epoch": 3},
        lambda s: {"state_dict": s},
    ],
    ids=["torchvision", "module-prefix", "state_dict+module", "state_dict"],
)
def test_loads_every_backbone_tensor_and_skips_fc(tmp_path, wrap):
    path, state = torchvision_file(tmp_path, wrap)
    net = build_model("resnet18", input_shape=(3, 32, 32), out_dim=7)
    report = load_pretrained(net, path)
    assert report["loaded"] == 120 and report["mismatched"] == 0
    assert sorted(report["skipped_names"]) == ["fc.bias", "fc.weight"]
    assert report["not_covered"] == 2  # the weaklab head
    got = net.state_dict()
    for k, v in state.items():
        if not k.startswith("fc."):
            assert torch.equal(got["backbone." + k], v), k
    assert "loaded 120 tensors" in describe(report) and "fc.weight" in describe(report)


def test_grayscale_input_sums_the_colour_first_conv(tmp_path):
    path, state = torchvision_file(tmp_path)
    net = build_model("resnet18", input_shape=(1, 32, 32), out_dim=7)
    report = load_pretrained(net, path)
    assert report["loaded"] == 120 and report["adapted"] == 1 and report["mismatched"] == 0
    assert torch.allclose(net.backbone.conv1.weight, state["conv1.weight"].sum(1, keepdim=True))


def test_other_architecture_is_refused_whole(tmp_path):
    path, _ = torchvision_file(tmp_path)
    net = build_model("resnet50", input_shape=(3, 32, 32), out_dim=7)  # same names, many other shapes
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(WeaklabError, match=r"tensors have another shape .*layer1\.0\.conv1\.weight"):
        load_pretrained(net, path)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # nothing half-loaded


def test_refuses_files_that_fit_nothing(tmp_path):
    path, _ = torchvision_file(tmp_path)
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, other)
    with pytest.raises(WeaklabError, match="no names matched"):
        load_pretrained(build_model("resnet18", input_shape=(3, 32, 32), out_dim=7), other)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeaklabError, match="unreadable"):
        load_pretrained(build_model("resnet18", input_shape=(3, 32, 32), out_dim=7), corrupt)
    with pytest.raises(WeaklabError, match="do not exist"):
        load_pretrained(build_model("resnet18", input_shape=(3, 32, 32), out_dim=7), tmp_path / "missing.pth")


def test_model_pretrained_key_loads_into_the_method(fast, tmp_path, capsys):
    from weaklab.engine.experiment import build_experiment

    path, state = torchvision_file(tmp_path, lambda s: {"module." + k: v for k, v in s.items()})
    # digits are 1-channel 8×8: conv1 of the colour file is summed to one channel
    x = build_experiment(fast("supervised", model__name="resnet18", model__width=None, model__pretrained=str(path)))
    assert "loaded 120 tensors (1 summed from colour to 1 channel), skipped 2" in capsys.readouterr().out
    assert torch.equal(x.method.model.backbone.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
