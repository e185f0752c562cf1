import numpy as np
import torch

from weaklab.api import load_run, train
from weaklab.data.store.device import Normalizer
from weaklab.engine.experiment import build_data


def test_zca_whitens_and_is_symmetric():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(12, 12))
    x = (rng.normal(size=(4000, 12)) @ mix).reshape(-1, 3, 2, 2) * 10 + 50
    norm = Normalizer.fit(x).with_zca(x, epsilon=1e-6)
    z = norm(torch.as_tensor(x)).reshape(len(x), -1).double()
    cov = torch.cov(z.T)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=2e-3)
    w = norm.zca[1]
    assert torch.allclose(w, w.T, atol=1e-4)  # zero-phase: the symmetric whitening matrix
    again = Normalizer.from_state_dict(norm.state_dict())
    assert torch.equal(again(torch.as_tensor(x[:5])), norm(torch.as_tensor(x[:5])))


def test_zca_option_trains_and_predicts(fast, tmp_path):
    config = fast(data__normalize="zca", train__epochs=1, out=str(tmp_path / "run"))
    data = build_data(config, torch.device("cpu"))
    assert data.normalizer.zca is not None
    run = train(config)
    probs = load_run(run.directory).predict_proba(np.zeros((2, 1, 8, 8), np.float32))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
