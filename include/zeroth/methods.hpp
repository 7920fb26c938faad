#pragma once
// The published ZO methods as named compositions of an estimator and a preconditioner.
#include "zeroth/estimators/blockwise.hpp"
#include "zeroth/estimators/forward_grad.hpp"
#include "zeroth/estimators/normalized_rge.hpp"
#include "zeroth/estimators/rge.hpp"
#include "zeroth/estimators/sparse.hpp"
#include "zeroth/estimators/three_point.hpp"
#include "zeroth/optimizer/optimizer.hpp"
#include "zeroth/preconditioners/adam.hpp"
#include "zeroth/preconditioners/conservative.hpp"
#include "zeroth/preconditioners/diagonal_hessian.hpp"
#include "zeroth/preconditioners/factored.hpp"
#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/preconditioners/momentum.hpp"
#include "zeroth/preconditioners/sign.hpp"

namespace zeroth {

// ZOSGD = Optimizer<RGE, Identity> (MeZO) is defined in optimizer/optimizer.hpp.

/// ZO-SGD-Sign (ZO-Bench): the sign of each projected scalar. 2 evaluations, 3 sweeps, 0 B/param.
using ZOSGDSign = Optimizer<RGE, Sign>;
/// ZO-SGD-MMT (ZO-Bench): heavy-ball momentum. 2 evaluations, 3 sweeps, 4 B/param.
using ZOSGDMomentum = Optimizer<RGE, Momentum>;
/// ZO-Adam (ZO-Bench, MeZO's appendix): bias-corrected Adam moments. 2 evaluations, 3 sweeps, 8 B/param.
using ZOAdam = Optimizer<RGE, Adam>;
/// HiZOO: diagonal Hessian, perturbations scaled by H^{-1/2}. 3 evaluations, 3 sweeps, 4 B/param. H is calibrated at
/// the first update (DiagonalHessian::Options::calibrate), so a constant lr of 0.1 needs no warmup.
///   zeroth::HiZOO opt({.learning_rate = 0.1}, {}, zeroth::DiagonalHessian({.alpha = 1e-2}));
using HiZOO = Optimizer<ThreePointRGE, DiagonalHessian>;
/// AdaLomo-style factored second moment on the RGE estimate. 2 evaluations, 5 sweeps, 4 (rows + cols) B per matrix.
using ZOFactored = Optimizer<RGE, Factored>;
/// FZOO (arXiv 2506.09034): q one-sided Rademacher directions (default 8) from one base evaluation, the step divided
/// by the standard deviation of the q losses: scale-free, so one learning rate serves objectives of any scale.
/// q + 1 evaluations, 0 B/param.
using FZOO = Optimizer<NormalizedRGE, Identity>;
/// ZO-SGD-Cons (ZO-Bench): also evaluates x0 and x0 +- lr g-hat and keeps the best. 5 evaluations, 3 to 5 sweeps plus
/// a snapshot copy, 0 B/param of state (the snapshot: the parameters' bytes).
using ZOSGDCons = Optimizer<RGE, Conservative>;
/// Forward-Grad (ZO-Bench): the exact directional derivative by dual numbers. 1 evaluation (a JVP), 1 sweep, 0 B/param.
using ForwardGradSGD = Optimizer<ForwardGrad, Identity>;
/// Block-wise ZO-SGD (ZO-Bench): one group of blocks per direction, independent z per block. 2 evaluations, 3 sweeps.
using ZOSGDBlockwise = Optimizer<BlockwiseRGE, Identity>;
/// ZO-SGD with a random mask of exactly round(ratio n) elements per block (ZO-Bench's gradient pruning). 0 B/param.
using ZOSGDRandomSparse = Optimizer<Sparse<RGE, RandomMask>, Identity>;
/// Sparse MeZO: the small-magnitude weights of each block. 1 bit/param.
using SparseMeZO = Optimizer<Sparse<RGE, MagnitudeMask>, Identity>;
/// SensZOQ-style: a static sensitive set chosen once from a score. 1 bit/param.
using SensitiveZOSGD = Optimizer<Sparse<RGE, SensitiveMask>, Identity>;
/// Sparse HiZOO: the diagonal Hessian on randomly masked directions (H stays outside the mask). 4 B/param.
using SparseHiZOO = Optimizer<Sparse<ThreePointRGE, RandomMask>, DiagonalHessian>;

}  // namespace zeroth
