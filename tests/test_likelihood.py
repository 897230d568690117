"""The torch likelihoods, folding and projection against moments' own functions."""

import moments
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sfsestimators.likelihood import (
    fold,
    multinomial_loglik,
    optimal_theta,
    poisson_loglik,
    project,
    projection_matrix,
)

SHAPES = [(11,), (21,), (7, 9), (5, 6, 7)]


def _random_pair(rng, shape):
    model = moments.Spectrum(rng.gamma(2.0, 1.0, shape))
    data = moments.Spectrum(rng.poisson(40 * model.data).astype(float))
    return model, data


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("folded", [False, True])
def test_likelihoods_match_moments(rng, shape, folded):
    model, data = _random_pair(rng, shape)
    if folded:
        data = data.fold()
    np.testing.assert_allclose(
        poisson_loglik(model, data), moments.Inference.ll(model, data), rtol=1e-8
    )
    np.testing.assert_allclose(
        multinomial_loglik(model, data), moments.Inference.ll_multinom(model, data), rtol=1e-8
    )
    np.testing.assert_allclose(
        optimal_theta(model, data), moments.Inference.optimal_sfs_scaling(model, data),
        rtol=1e-8,
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_fold_matches_moments(rng, shape):
    model, _ = _random_pair(rng, shape)
    expected = model.fold()
    np.testing.assert_allclose(fold(np.asarray(model.data)), expected.data, rtol=1e-12)
    folded = fold(model)
    assert folded.folded
    np.testing.assert_array_equal(folded.mask, expected.mask)


@pytest.mark.parametrize("shape", SHAPES)
def test_project_matches_moments(rng, shape):
    model, _ = _random_pair(rng, shape)
    sizes = [max(1, s - 1 - k) for k, s in enumerate(shape, start=2)]
    expected = model.project(sizes)
    got = project(model, sizes)
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-8)
    np.testing.assert_array_equal(got.mask, expected.mask)
    # a folded spectrum is unfolded, projected and folded, as moments does
    np.testing.assert_allclose(
        project(model.fold(), sizes).data, model.fold().project(sizes).data, rtol=1e-8
    )


def test_batched_torch_and_gradients(rng):
    model, data = _random_pair(rng, (6, 8))
    batch = torch.tensor(np.stack([model.data, 3 * model.data, 0.5 * model.data]),
                         requires_grad=True)
    ll = multinomial_loglik(batch, data)
    assert isinstance(ll, torch.Tensor) and ll.shape == (3,)
    # multinomial: invariant to the scale of the model
    np.testing.assert_allclose(ll.detach().numpy(), moments.Inference.ll_multinom(model, data))
    ll.sum().backward()
    assert batch.grad.shape == batch.shape and torch.isfinite(batch.grad).all()
    # batched projection = projection of each member
    proj = project(batch.detach(), [3, 5])
    np.testing.assert_allclose(proj[1].numpy(), 3 * model.project([3, 5]).data, rtol=1e-10)


def test_gradcheck_poisson():
    shape = (9,)
    model = torch.rand((2,) + shape, dtype=torch.float64) + 0.5
    data = torch.poisson(10 * torch.rand(shape, dtype=torch.float64))
    model.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda m: poisson_loglik(m, data), (model,))
    assert torch.autograd.gradcheck(lambda m: multinomial_loglik(m, data, folded=True),
                                    (model,))


def test_batched_data_needs_mask_and_works(rng):
    model, data = _random_pair(rng, (11,))
    boot = np.stack([data.data, data.data + 1])
    mask = np.ma.getmaskarray(data)
    ll = poisson_loglik(np.asarray(model.data), boot, mask=mask)
    np.testing.assert_allclose(ll[0], moments.Inference.ll(model, data), rtol=1e-10)


def test_shape_mismatch_is_a_clear_error(rng):
    model, data = _random_pair(rng, (11,))
    with pytest.raises(ValueError, match="model has shape"):
        poisson_loglik(np.ones(12), data)
    with pytest.raises(ValueError, match="Cannot project"):
        project(np.ones(11), [12])
    with pytest.raises(ValueError, match="one sample size for each"):
        project(moments.Spectrum(np.ones((5, 5))), [3])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), data=st.data())
def test_projection_is_consistent_and_exact(n, data):
    """Projecting n -> m -> k equals n -> k, and the constant-size SFS stays 1/i."""
    m = data.draw(st.integers(2, n))
    k = data.draw(st.integers(1, m))
    np.testing.assert_allclose(
        projection_matrix(n, m) @ projection_matrix(m, k), projection_matrix(n, k), atol=1e-12
    )
    sfs = np.r_[0.0, 1.0 / np.arange(1, n), 0.0]
    np.testing.assert_allclose(project(sfs, [m])[1:-1], 1.0 / np.arange(1, m), rtol=1e-9)
