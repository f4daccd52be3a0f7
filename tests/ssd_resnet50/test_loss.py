"""The training loss against a plain numpy reference on small tensors."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from ssd_resnet50.model.config import DEFAULT_CONFIG
from ssd_resnet50.training.loss import MultiBoxLoss, SsdWithLoss


def reference(loc, logits, loc_targets, labels, alpha=0.25, gamma=2.0):
    """(focal term, SmoothL1 term), each divided by max(1, positives), in float64 numpy."""
    x = logits.astype(np.float64)
    y = np.eye(logits.shape[-1])[labels]  # one-hot, background channel included
    p = 1 / (1 + np.exp(-x))
    cross_entropy = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    p_true = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, alpha, 1 - alpha)
    focal = (alpha_t * (1 - p_true) ** gamma * cross_entropy).sum()
    d = np.abs(loc.astype(np.float64) - loc_targets)
    smooth = np.where(d < 1, 0.5 * d ** 2, d - 0.5).sum(-1)
    positives = max((labels > 0).sum(), 1)
    return focal / positives, (smooth * (labels > 0)).sum() / positives


def random_case(seed, batch=2, anchors=7, classes=4, logit_scale=3.0):
    rng = np.random.default_rng(seed)
    loc = rng.normal(0, 1.5, (batch, anchors, 4)).astype(np.float32)
    loc_targets = rng.normal(0, 1.5, (batch, anchors, 4)).astype(np.float32)
    logits = rng.normal(0, logit_scale, (batch, anchors, classes)).astype(np.float32)
    labels = rng.integers(0, classes, (batch, anchors)).astype(np.int32)
    return loc, logits, loc_targets, labels


def run_loss(loc, logits, loc_targets, labels, **options):
    loss = MultiBoxLoss(logits.shape[-1], **options)
    focal, smooth = loss(*(ms.Tensor(a) for a in (loc, logits, loc_targets, labels)))
    return float(focal.asnumpy()), float(smooth.asnumpy())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_focal_and_smooth_l1_terms_match_numpy(seed):
    case = random_case(seed)
    assert (case[3] > 0).sum() > 1  # several positives: the division matters
    np.testing.assert_allclose(run_loss(*case), reference(*case), rtol=1e-5)


def test_other_alpha_and_gamma():
    case = random_case(3)
    np.testing.assert_allclose(run_loss(*case, alpha=0.6, gamma=1.0), reference(*case, alpha=0.6, gamma=1.0),
                               rtol=1e-5)


def test_without_positives_the_sum_is_divided_by_one():
    loc, logits, loc_targets, labels = random_case(4)
    labels[:] = 0
    focal, smooth = run_loss(loc, logits, loc_targets, labels)
    assert smooth == 0.0
    np.testing.assert_allclose(focal, reference(loc, logits, loc_targets, labels)[0], rtol=1e-5)


def test_large_logits_stay_finite_and_exact():
    loc, logits, loc_targets, labels = random_case(5, logit_scale=40.0)
    focal, smooth = run_loss(loc, logits, loc_targets, labels)
    assert np.isfinite([focal, smooth]).all()
    # numpy's log(sigmoid) underflows at this scale; the softplus form does not
    x, y = logits.astype(np.float64), np.eye(4)[labels]
    cross_entropy = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    p = 1 / (1 + np.exp(-x))
    p_true = np.where(y == 1, p, 1 - p)
    expected = (np.where(y == 1, 0.25, 0.75) * (1 - p_true) ** 2 * cross_entropy).sum() / (labels > 0).sum()
    np.testing.assert_allclose(focal, expected, rtol=1e-4)


def test_confident_right_answers_cost_almost_nothing():
    labels = np.array([[0, 2, 1]], np.int32)
    logits = np.where(np.eye(3)[labels] == 1, 12.0, -12.0).astype(np.float32)
    loc = np.ones((1, 3, 4), np.float32)
    focal, smooth = run_loss(loc, logits, loc.copy(), labels)
    assert focal < 1e-8 and smooth == 0.0


class FixedOutputs(nn.Cell):
    """A stand-in network that returns given (loc, logits), whatever the images."""

    def __init__(self, loc, logits):
        super().__init__()
        self.config = DEFAULT_CONFIG.with_options(num_classes=logits.shape[-1])
        self.loc, self.logits = ms.Tensor(loc), ms.Tensor(logits)

    def construct(self, images):
        return self.loc + 0 * images.sum(), self.logits


def test_network_with_loss_adds_both_terms():
    loc, logits, loc_targets, labels = random_case(6)
    cell = SsdWithLoss(FixedOutputs(loc, logits))
    total = float(cell(ms.Tensor(np.zeros((2, 3, 8, 8), np.float32)), ms.Tensor(loc_targets),
                       ms.Tensor(labels)).asnumpy())
    np.testing.assert_allclose(total, sum(reference(loc, logits, loc_targets, labels)), rtol=1e-5)


def test_parameter_names_keep_the_checkpoint_prefix():
    from ssd_resnet50.model.network import create_network

    network = create_network(is_training=True, num_classes=3, image_size=64)
    names = [p.name for p in SsdWithLoss(network).get_parameters()]
    assert names == [p.name for p in network.get_parameters()]
    assert all(name.startswith("network.") for name in names)
