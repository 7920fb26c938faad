#pragma once
// The published ZO methods as named compositions of an estimator and a preconditioner.
#include "zeroth/estimators/rge.hpp"
#include "zeroth/estimators/three_point.hpp"
#include "zeroth/optimizer/optimizer.hpp"
#include "zeroth/preconditioners/adam.hpp"
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
/// HiZOO: diagonal Hessian, perturbations scaled by H^{-1/2}. 3 evaluations, 3 sweeps, 4 B/param.
///   zeroth::HiZOO opt({.learning_rate = 1e-2}, {}, zeroth::DiagonalHessian({.alpha = 1e-3}));
using HiZOO = Optimizer<ThreePointRGE, DiagonalHessian>;
/// AdaLomo-style factored second moment on the RGE estimate. 2 evaluations, 5 sweeps, 4 (rows + cols) B per matrix.
using ZOFactored = Optimizer<RGE, Factored>;

}  // namespace zeroth
