"""The built-in parts, declared torch-free: names, language words, options, and where the code is.

Each part's code is imported on first use (`genospec.registry.Registry.get`), so the language
can read and check every name and option without importing torch. A user part registers the
same way from Python, a ``--plugin`` module or a ``genospec.plugins`` entry point
(`genospec.plugins`), see docs/extending.md.
"""

from __future__ import annotations

from .registry import (DATASET, EDGE_RELAXATION, LAYOUT, OP_RELAXATION, REGULARISER, SELECTION,
                       STUDY, UPDATE_RULE, Option, registry)


# DARTS-PT's topology decision (genospec.search.perturbation.decide_node)
PT_EDGE_RULE = Option(
    "edge_rule", str, "single", choices=("single", "sequential"),
    doc="how a node's edges are ranked: 'single', each edge's removal measured alone against "
        "the full node (the released code's project_edge); 'sequential', the least harmful "
        "edge removed and the rest re-measured, until k remain")


def declare() -> None:
    """Register every built-in part (called once, by `genospec.registry.registry`)."""
    op = registry(OP_RELAXATION)
    op.register("softmax", "genospec.relax.ops:Softmax", tags=("ops",),
                doc="DARTS: softmax(alpha / T) over each edge's candidates")
    op.register("group_softmax", "genospec.relax.ops:GroupSoftmax", words=("softmax",),
                tags=("groups",), doc="DOTS: one softmax per op group on each edge")
    op.register("fixed", "genospec.relax.ops:Fixed", tags=("ops",),
                doc="DARTS-PT blank: alpha held at 0 (uniform weights)")
    # Sampling relaxations (genospec.relax.sampling): GDAS, SNAS, DrNAS; GDAS and SNAS also
    # within each op group (`relax groups gdas ...`).
    anneal = Option("anneal", str, "linear", choices=("linear", "exponential"),
                    doc="how 'temperature start -> end' anneals: linearly (the GDAS and SNAS "
                        "codes) or exponentially, T0 * theta^t")
    carry = Option("carry", bool, True, flag="sampled_only", flag_value=False,
                   doc="add the unsampled ops' weights (value 0) to the edge output so alpha "
                       "takes their gradient (GDAS' NAS-Bench-201 code); 'sampled_only': only "
                       "the sampled op's weight (its DARTS-space code)")
    for name, target, tags, words, options, doc in (
            ("gdas", "GDAS", ("ops",), None, (anneal, carry),
             "GDAS: hard Gumbel-max sample, straight-through gradient, one op computed"),
            ("group_gdas", "GroupGDAS", ("groups",), ("gdas",), (anneal, carry),
             "GDAS within each op group: one sampled op per group"),
            ("snas", "SNAS", ("ops",), None, (anneal,),
             "SNAS: soft Gumbel-softmax (concrete) sample at temperature T"),
            ("group_snas", "GroupSNAS", ("groups",), ("snas",), (anneal,),
             "SNAS within each op group"),
            ("drnas", "DrNAS", ("ops",), None, (),
             "DrNAS: Dirichlet(elu(alpha) + 1) sample, reparameterised")):
        op.register(name, f"genospec.relax.sampling:{target}", tags=tags, words=words,
                    options=options, doc=doc)

    edge = registry(EDGE_RELAXATION)
    edge.register("combination", "genospec.relax.edges:Combination", tags=("edges",), options=(
        Option("normalise", bool, True, flag="sum", flag_value=False,
               doc="divide each combination's weight by its size N(c) (the paper); 'sum': the "
                   "released code's sum without 1/N(c)"),),
        doc="DOTS: softmax over each node's edge combinations, gamma(i,j) = sum beta_c / N(c)")
    edge.register("sigmoid", "genospec.relax.edges:Sigmoid", tags=("edges",),
                  doc="edge-level sigmoid (the DOTS baseline)")

    upd = registry(UPDATE_RULE)
    upd.register("bilevel", "genospec.search.update:bilevel_step",
                 doc="architecture on the validation half, weights on the training half")
    upd.register("onelevel", "genospec.search.update:onelevel_step",
                 doc="one batch, one loss, both parameter sets step (DOTS topology stage)")

    sel = registry(SELECTION)
    sel.register("magnitude", "genospec.search.select:magnitude",
                 doc="DARTS: top-k edges per node by their strongest op, then the argmax op")
    sel.register("best_per_edge", "genospec.search.select:best_per_edge",
                 words=("best", "per", "edge"), options=(
        Option("zero", bool, False, flag="with_zero", flag_value=True,
               doc="the zero op may be the op an edge keeps (DOTS CVPR eq. 14, argmax over "
                   "all of O); default: the strongest non-zero op (DARTS' rule)"),),
                 doc="the argmax op on every edge (reduced space)")
    sel.register("best_per_group", "genospec.search.select:best_per_group",
                 words=("best", "per", "group"), doc="the best op of each group on every edge")
    sel.register("best_combination", "genospec.search.select:best_combination",
                 words=("best", "combination"), doc="each node's strongest edge combination")
    sel.register("threshold", "genospec.search.select:threshold", options=(
        Option("threshold", float, 0.5, lo=0.0, hi=1.0, positional=True,
               doc="keep edges whose sigmoid weight exceeds it"),),
        doc="edges above a sigmoid threshold (topped up to pick's minimum)")
    sel.register("perturbation", "genospec.search.perturbation_stage:PerturbationSelection", options=(
        Option("target", str, "both", choices=("ops", "edges", "both"), positional=True,
               doc="what DARTS-PT decides"), PT_EDGE_RULE),
        doc="DARTS-PT: perturbation-based selection with fine-tuning between decisions")

    data = registry(DATASET)
    for name, doc in (("fashion_mnist", "Fashion-MNIST (Debian's dataset-fashion-mnist)"),
                      ("cifar10", "CIFAR-10 (torchvision layout under --data-root)"),
                      ("cifar100", "CIFAR-100 (torchvision layout under --data-root)"),
                      ("imagefolder", "train/ and val/ image folders under --data-root"),
                      ("synthetic", "generated class patterns (tests, smoke runs)")):
        data.register(name, f"genospec.data.dataset:load_{name}", doc=doc)

    lay = registry(LAYOUT)
    for name, doc in (("cifar", "the DARTS CIFAR network"),
                      ("imagenet", "the DARTS ImageNet (mobile) network"),
                      ("nb201", "NAS-Bench-201's TinyNetwork")):
        lay.register(name, "genospec.nn.network:build_network", doc=doc)

    study = registry(STUDY)
    study.register("kendall", "genospec.study.kendall:run_kendall",
                   doc="DOTS Fig. 1: Kendall tau of alpha / beta against stand-alone accuracy")
    study.register("skips", "genospec.study.skips:run_skips",
                   doc="skip_connect on S2 and noise on S4: DARTS vs DARTS-PT vs DOTS")
    study.register("edarts", "genospec.study.edarts:run_edarts",
                   doc="eDARTS Table II: full data, subset, once-per-epoch update")

    registry(REGULARISER).register(
        "dirichlet_kl", "genospec.search.dirichlet:DirichletKL", options=(
            Option("weight", float, 1e-3, lo=0.0, doc="lambda, the KL term's scale (DrNAS code "
                   "reg_scale 1e-3)"),
            Option("prior", float, 1.0, lo=0.0, lo_open=True,
                   doc="the prior's concentration beta_hat (DrNAS code: 1, the uniform "
                       "Dirichlet)")),
        doc="DrNAS: weight * KL(Dir(elu(alpha) + 1) || Dir(prior)) on the architecture loss")
    registry(REGULARISER)  # none built in yet: the kind exists for recipes and plugins
    _declare_issue15_parts()


def _declare_issue15_parts() -> None:
    """SDARTS, FairDARTS, PC-DARTS edge normalisation, the cost regulariser, top-k, FairDARTS'
    threshold and DARTS+PT-Mag selection (issue 15)."""
    registry(OP_RELAXATION).register(
        "sigmoid", "genospec.relax.independent:IndependentSigmoid", tags=("ops",),
        doc="FairDARTS: an independent sigmoid(alpha / T) per op, no competition")
    registry(EDGE_RELAXATION).register(
        "normalisation", "genospec.relax.independent:EdgeNormalisation", tags=("edges",),
        doc="PC-DARTS edge normalisation: softmax(beta / T) over each node's incoming edges")

    reg = registry(REGULARISER)
    eps = (Option("epsilon", float, 0.3, lo=0.0, hi=10.0,
                  doc="the largest perturbation, reached at the stage's end (code: 0.3)"),
           Option("start", float, 0.03, lo=0.0, hi=10.0,
                  doc="the perturbation bound in the first epoch (code: 0.03)"),
           Option("space", str, "weights", choices=("weights", "alpha"),
                  doc="perturb the relaxed op weights (the code) or the logits alpha"))
    reg.register("sdarts_random", "genospec.search.regularisers:SDARTSRandom", options=eps,
                 doc="SDARTS-RS: the weight step at uniformly perturbed architecture weights")
    reg.register("sdarts_adv", "genospec.search.regularisers:SDARTSAdversarial", options=(
        *eps,
        Option("steps", int, 7, lo=1, hi=100, doc="PGD steps (code: 7)"),
        Option("step_size", float, None, lo=0.0, lo_open=True, hi=10.0,
               doc="PGD step (default, as the code: 2 * eps / steps)"),
        Option("random_start", bool, True, flag="no_random_start", flag_value=False,
               doc="start the attack from a uniform draw in the eps-ball (code: yes)")),
        doc="SDARTS-ADV: the weight step at a PGD attack on the architecture weights")
    reg.register("zero_one", "genospec.search.regularisers:ZeroOne", options=(
        Option("weight", float, 10.0, lo=0.0, hi=1e3, positional=True,
               doc="w_{0-1} (paper and code: 10)"),),
        doc="FairDARTS: -weight * mean((w - 0.5)^2) on the architecture loss")
    reg.register("cost", "genospec.search.regularisers:Cost", options=(
        Option("weight", float, 0.01, lo=0.0, hi=1e3, positional=True,
               doc="lambda, per million multiply-adds (or parameters)"),
        Option("measure", str, "macs", choices=("macs", "params"),
               doc="multiply-adds for one image, or parameters")),
        doc="lambda * sum of mixing weight * op cost (genospec.nn.count) on the arch loss")

    sel = registry(SELECTION)
    sel.register("top_k", "genospec.search.select:top_k", words=("top",), options=(
        Option("k", int, 2, lo=1, hi=64, positional=True, doc="ops kept per edge"),),
        doc="the k strongest ops on every edge (reduced space; DOTS' DARTS-Top2)")
    sel.register("fair_threshold", "genospec.search.select:fair_threshold",
                 words=("fair", "threshold"), options=(
        Option("threshold", float, 0.85, lo=0.0, hi=1.0, positional=True,
               doc="keep an edge whose best op's weight reaches it (code: 0.85)"),),
        doc="FairDARTS: each node's top edges whose best sigmoid passes, topped up to pick")
    sel.register("progressive_magnitude", "genospec.search.pt_mag:ProgressiveMagnitude",
                 words=("progressive", "magnitude"), options=(
        Option("target", str, "both", choices=("ops", "edges", "both"), positional=True,
               doc="what is decided (edges by perturbation, as DARTS-PT)"), PT_EDGE_RULE),
        doc="DARTS+PT-Mag: DARTS-PT's progressive tuning with magnitude op decisions")
