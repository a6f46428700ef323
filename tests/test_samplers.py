"""The sampling op relaxations (genospec.relax.sampling): GDAS, SNAS and DrNAS against their
equations on small tensors, their gradients, the supernet computing one op per edge under GDAS,
DrNAS' KL regulariser, the linear temperature schedules, and their options in recipes."""

from __future__ import annotations

import math

import pytest
import torch

from genospec.errors import SpecError
from genospec.ir import Topology
from genospec.lang.loader import loads
from genospec.nn.mixed import EdgeMix, MixedEdge
from genospec.nn.supernet import Supernet
from genospec.relax import cell_layout, make_op_relaxation
from genospec.relax.sampling import DrNAS, concentration, dirichlet_kl
from genospec.relax.schedule import LinearTemperature
from genospec.lang.settings import RelaxSettings, stage_settings
from genospec.search.relaxations import temperature
from genospec.search.dirichlet import DirichletKL
from test_relax import DARTS_OPS, GROUP_V2, cell, s1_cell
from test_supernet import TINY, op_calls, small_space


@pytest.fixture(autouse=True)
def _float64():
    """Every test here computes in float64 (exact comparisons with the equations)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def gumbel_like(alpha: torch.Tensor) -> torch.Tensor:
    """The noise the relaxations draw from the same generator state: -log E, E ~ Exp(1)."""
    return -torch.empty_like(alpha).exponential_().log()


def layouts():
    """The DARTS cell (every op on every edge) and RobustDARTS S1 (two ops per edge)."""
    return [cell_layout(cell(nodes=2)), cell_layout(s1_cell())]


# ---- GDAS (Dong & Yang, CVPR 2019, eq. 5-7) ---------------------------------------------------
@pytest.mark.parametrize("lay", layouts(), ids=["darts", "s1"])
def test_gdas_forward_is_the_gumbel_max_one_hot(lay):
    alpha = torch.randn(lay.alpha_shape)
    for seed in range(5):
        torch.manual_seed(seed)
        w = make_op_relaxation("gdas").weights(alpha, lay, 3.0)
        torch.manual_seed(seed)
        g = gumbel_like(alpha)
        logp = torch.log_softmax(alpha.masked_fill(~lay.mask, -math.inf), -1)
        sampled = (logp + g).masked_fill(~lay.mask, -math.inf).argmax(-1)  # eq. 5
        assert torch.equal(w, torch.nn.functional.one_hot(sampled, lay.alpha_shape[1]).double())


def test_gdas_gradient_is_the_soft_gumbel_softmax_gradient():
    """Straight-through (eq. 7): d/d alpha of sum(c * h) equals that of sum(c * soft)."""
    lay = cell_layout(s1_cell())
    alpha = torch.randn(lay.alpha_shape, requires_grad=True)
    c = torch.randn(lay.alpha_shape)
    torch.manual_seed(1)
    (make_op_relaxation("gdas").weights(alpha, lay, 0.7) * c).sum().backward()
    hard_grad = alpha.grad.clone()
    alpha.grad = None
    torch.manual_seed(1)
    g = gumbel_like(alpha)
    z = (torch.log_softmax(alpha.masked_fill(~lay.mask, -math.inf), -1) + g) / 0.7
    soft = torch.softmax(z, -1) * lay.mask
    (soft * c).sum().backward()
    assert torch.allclose(hard_grad, alpha.grad, atol=1e-12)
    assert hard_grad[lay.mask].abs().min() > 0 and hard_grad[~lay.mask].eq(0).all()


def test_gdas_samples_follow_softmax_alpha():
    """Gumbel-max: op o is drawn with probability softmax(alpha)_o, at any temperature."""
    lay = cell_layout(cell(nodes=2))
    alpha = torch.zeros(lay.alpha_shape)
    alpha[:, :3] = torch.tensor([1.0, 0.0, -1.0])
    torch.manual_seed(0)
    gdas = make_op_relaxation("gdas")
    counts = sum(gdas.weights(alpha, lay, 5.0) for _ in range(800))
    freq = counts.sum(0) / counts.sum()
    assert torch.allclose(freq, torch.softmax(alpha[0], -1), atol=0.02)


def test_group_gdas_draws_one_op_per_group():
    lay = cell_layout(cell(nodes=2), GROUP_V2)
    alpha = torch.randn(lay.alpha_shape, requires_grad=True)
    w = make_op_relaxation("group_gdas").weights(alpha, lay, 1.0)
    for g, members in enumerate(GROUP_V2.values()):
        cols = [DARTS_OPS.index(o) for o in members]
        assert torch.equal(w[:, cols].sum(-1), torch.ones(lay.alpha_shape[0]))
        assert set(w[:, cols].flatten().tolist()) == {0.0, 1.0}
    with pytest.raises(SpecError, match="groups"):
        make_op_relaxation("group_gdas").weights(alpha, cell_layout(cell(nodes=2)), 1.0)


# ---- SNAS (Xie et al., ICLR 2019, eq. 3) ------------------------------------------------------
@pytest.mark.parametrize("lay", layouts(), ids=["darts", "s1"])
def test_snas_is_the_concrete_relaxation(lay):
    """softmax((alpha + G) / T) over the candidates (alpha unnormalised, as the released
    _get_categ_mask: the softmax does not see log p's row constant)."""
    alpha = torch.randn(lay.alpha_shape)
    torch.manual_seed(3)
    w = make_op_relaxation("snas").weights(alpha, lay, 0.5)
    torch.manual_seed(3)
    g = gumbel_like(alpha)
    expected = torch.softmax(((alpha + g) / 0.5).masked_fill(~lay.mask, -math.inf), -1)
    assert torch.allclose(w, expected, atol=1e-12)
    assert w[~lay.mask].eq(0).all() and torch.allclose(w.sum(-1), torch.ones(len(w)))


def test_snas_anneals_towards_one_hot_and_its_gradient_flows():
    lay = cell_layout(cell(nodes=2))
    alpha = torch.randn(lay.alpha_shape, requires_grad=True)
    torch.manual_seed(0)
    cold = make_op_relaxation("snas").weights(alpha, lay, 0.01)
    assert cold.max(-1).values.min() > 0.9
    torch.manual_seed(0)
    hot = make_op_relaxation("snas").weights(alpha, lay, 100.0)
    assert (hot - 1 / 8).abs().max() < 0.05
    hot[:, 0].sum().backward()
    assert alpha.grad.abs().min() > 0


# ---- DrNAS (Chen et al., ICLR 2021, §2.2) ---------------------------------------------------
@pytest.mark.parametrize("lay", layouts(), ids=["darts", "s1"])
def test_drnas_draws_the_dirichlet_of_elu_plus_one(lay):
    alpha = torch.randn(lay.alpha_shape)
    torch.manual_seed(4)
    w = make_op_relaxation("drnas").weights(alpha, lay)
    assert w[~lay.mask].eq(0).all() and torch.allclose(w.sum(-1), torch.ones(len(w)))
    assert torch.equal(concentration(alpha), torch.nn.functional.elu(alpha) + 1)
    if lay.mask.all():  # every op a candidate: the very draw of Dir(elu(alpha) + 1)
        torch.manual_seed(4)
        assert torch.allclose(w, torch.distributions.Dirichlet(concentration(alpha)).rsample())


def test_drnas_mean_and_pathwise_gradient_match_the_dirichlet_mean():
    """E[w] = beta / sum(beta) over the candidates, and its gradient is the mean's gradient."""
    lay = cell_layout(s1_cell())
    alpha = (0.5 * torch.randn(lay.alpha_shape)).requires_grad_()
    beta = torch.where(lay.mask, concentration(alpha), torch.zeros(()))
    mean = beta / beta.sum(-1, keepdim=True)
    c = torch.randn(lay.alpha_shape)
    (grad_mean,) = torch.autograd.grad((mean * c).sum(), alpha)
    torch.manual_seed(0)
    drnas, n = DrNAS(), 3000
    total = sum(drnas.weights(alpha, lay) for _ in range(n)) / n
    assert torch.allclose(total.detach(), mean.detach(), atol=0.02)
    (grad,) = torch.autograd.grad((total * c).sum(), alpha)
    assert torch.allclose(grad, grad_mean, atol=0.03)


def test_drnas_takes_no_temperature():
    lay = cell_layout(cell(nodes=2))
    with pytest.raises(SpecError, match="no temperature"):
        DrNAS().weights(torch.zeros(lay.alpha_shape), lay, 2.0)


def test_dirichlet_kl_matches_torch_and_restricts_to_candidates():
    a = torch.rand(5, 4) * 3 + 0.1
    full = torch.ones(5, 4, dtype=torch.bool)
    ref = torch.distributions.kl_divergence(torch.distributions.Dirichlet(a),
                                            torch.distributions.Dirichlet(torch.full_like(a, 2.0)))
    assert torch.allclose(dirichlet_kl(a, 2.0, full), ref, atol=1e-12)
    mask = full.clone()
    mask[0, 2:] = False
    mask[1] = False
    kl = dirichlet_kl(a, 1.0, mask)
    sub = torch.distributions.kl_divergence(torch.distributions.Dirichlet(a[0, :2]),
                                            torch.distributions.Dirichlet(torch.ones(2)))
    assert torch.allclose(kl[0], sub) and kl[1] == 0 and torch.isfinite(kl).all()
    assert dirichlet_kl(torch.ones(2, 3), 1.0, torch.ones(2, 3, dtype=torch.bool)).abs().max() \
        < 1e-12  # KL of the prior from itself


def test_dirichlet_kl_regulariser_adds_to_the_architecture_loss_only():
    torch.manual_seed(0)
    net = Supernet(small_space(), **TINY, op_relax="drnas").double()
    reg = DirichletKL(weight=0.5, prior=1.0)
    assert reg.loss(net, "weights") is None
    term = reg.loss(net, "arch")
    expected = sum(dirichlet_kl(concentration(a.alpha), 1.0, net.layout(n).mask).sum()
                   for n, a in net.arch.items())
    assert torch.allclose(term, 0.5 * expected)
    term.backward()
    assert all(a.alpha.grad is not None and a.alpha.grad.abs().sum() > 0
               for a in net.arch.values())
    assert reg.epoch_end(net, 0)["dirichlet_kl"] == pytest.approx(float(expected.detach()))


# ---- the supernet under GDAS ------------------------------------------------------------------
def test_mixed_edge_carry_passes_the_unsampled_weights_gradient():
    """Only the sampled op runs; the others' weights (value 0) reach the output as scalars, so
    dL/dw_o = sum(dL/dout) for them (AutoDL-Projects forward_gdas)."""
    space = small_space(("skip_connect", "sep_conv_3x3", "avg_pool_3x3"))
    edge = space.cells["normal"].edges()[0]
    mixed = MixedEdge(edge, space.ops, 4, 1, affine=False).double()
    calls = {n: 0 for n in mixed.op_names}
    for n, op in zip(mixed.op_names, mixed.ops):
        op.register_forward_hook(lambda *_, n=n: calls.__setitem__(n, calls[n] + 1))
    w = torch.tensor([0.0, 1.0, 0.0], requires_grad=True)
    x = torch.randn(2, 4, 5, 5)
    g = torch.randn(2, 4, 5, 5)
    out = mixed(x, EdgeMix(w, (1,), None, w[[0, 2]].sum()))
    (out * g).sum().backward()
    assert calls == {"skip_connect": 0, "sep_conv_3x3": 1, "avg_pool_3x3": 0}
    assert torch.allclose(w.grad[[0, 2]], g.sum().expand(2))
    w2 = w.detach().clone().requires_grad_()
    assert torch.allclose(out, mixed(x, EdgeMix(w2, (1,))))  # the carried value adds nothing


@pytest.mark.parametrize("carry", [True, False])
def test_gdas_supernet_computes_one_op_per_edge_and_every_alpha_learns(carry):
    torch.manual_seed(0)
    net = Supernet(small_space(), **TINY, op_relax=make_op_relaxation("gdas", carry=carry))
    net.set_temperature(op=2.0)
    calls = [op_calls(net, "normal", e) for e in range(5)]
    net(torch.randn(2, 3, 8, 8)).square().mean().backward()
    for c in calls:  # exactly one forward on every edge (the zero op runs no module)
        assert sum(c.values()) <= 1
    assert sum(sum(c.values()) for c in calls) >= 3
    grad = net.arch["normal"].alpha.grad
    if carry:  # every alpha learns, also on an edge whose sample was the zero op
        assert grad.abs().min() > 0
    else:  # only through the sampled op's weight (p couples the row); a zero sample: nothing
        assert all(row.ne(0).all() or row.eq(0).all() for row in grad) and grad.ne(0).any()


def test_samplers_report_softmax_alpha_for_selection():
    for name in ("gdas", "snas", "drnas"):
        torch.manual_seed(0)
        net = Supernet(small_space(), **TINY, op_relax=name)
        alpha = net.arch["normal"].alpha.detach()
        mixing = net.mixing()["normal"].weights
        assert torch.allclose(mixing, torch.softmax(alpha, -1))
        assert torch.equal(mixing, net.mixing()["normal"].weights)  # no draw


# ---- temperature schedules --------------------------------------------------------------------
def test_linear_schedule_is_the_gdas_code_formula():
    t = LinearTemperature(10, 0.1, 250)
    for epoch in (0, 1, 100, 249):
        assert t.at(epoch) == pytest.approx(10 - (10 - 0.1) * epoch / 249)
    assert t.at(500) == 0.1 and t.scaled(0.5).at(249) == pytest.approx(0.05)
    entry = RelaxSettings("ops", "gdas", 10.0, 0.1, None, None, "epoch", {"anneal": "linear"})
    assert isinstance(temperature(entry, 250, 7), LinearTemperature)
    exponential = RelaxSettings("ops", "gdas", 10.0, 0.1, None, None, "epoch",
                                {"anneal": "exponential"})
    assert temperature(exponential, 250, 7).at(1) == pytest.approx(10 * (0.01 ** (1 / 249)))
    with pytest.raises(SpecError):
        LinearTemperature(0.1, 10, 5)


SPACE = """
space s {
  ops { none = zero  skip = identity  conv = sep_conv(3) }
  cell normal { inputs 2  nodes 2  edges all  topology pick 2  output concat }
  network { cells 1 channels 4 }
}
"""


def recipe(stage: str):
    return loads(SPACE + "search r of s {\n stage a {\n" + stage + "\n }\n}\n", "r.gs")


def test_recipes_read_sampler_options_and_range_check_them():
    r = recipe("relax ops gdas temperature 10 -> 0.1 per epoch sampled_only").get("r")
    entry = stage_settings(r, r.stages[0]).relaxation("ops")
    assert (entry.method, entry.options["carry"], entry.options["anneal"]) == \
        ("gdas", False, "linear")
    r = recipe("relax ops snas temperature 1 -> 0.03 anneal exponential").get("r")
    assert stage_settings(r, r.stages[0]).relaxation("ops").options["anneal"] == "exponential"
    r = recipe("relax ops drnas\n regularise dirichlet_kl weight 0.01 prior 2").get("r")
    assert [(c.name, c.options) for c in stage_settings(r, r.stages[0]).regularise] == [
        ("dirichlet_kl", {"weight": 0.01, "prior": 2.0})]
    for bad, message in (("relax ops gdas anneal cubic", "known: exponential, linear"),
                         ("relax ops drnas\n regularise dirichlet_kl prior 0", "must be > 0"),
                         ("relax ops drnas\n regularise dirichlet_kl weight -1", "negative"),
                         ("relax ops snas sampled_only", "unexpected 'sampled_only'")):
        with pytest.raises(SpecError, match=message) as caught:
            recipe(bad).get("r")
        assert "r.gs:" in str(caught.value) or getattr(caught.value, "span", None) is not None
