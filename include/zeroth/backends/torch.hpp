#pragma once
// The LibTorch backend (optional: CMake -DZEROTH_WITH_TORCH=ON, Debian libtorch-dev; never included by zeroth.hpp):
// torch::nn or TorchScript models as zeroth backends over their own tensors, the torch::nn BERT encoder and its
// sentence classifier, the first-order methods that back-propagate (LOMO, AdaLomo, FO-SGD, FO-AdamW), hybrid ZO/FO
// fine-tuning, forward-mode gradients through forward AD, and the first-order state in zeroth's checkpoints.
#include "zeroth/backends/torch/adalomo.hpp"
#include "zeroth/backends/torch/backprop.hpp"
#include "zeroth/backends/torch/bert.hpp"
#include "zeroth/backends/torch/checkpoint.hpp"
#include "zeroth/backends/torch/forward_grad.hpp"
#include "zeroth/backends/torch/fused_backward.hpp"
#include "zeroth/backends/torch/hybrid.hpp"
#include "zeroth/backends/torch/lomo.hpp"
#include "zeroth/backends/torch/module.hpp"
#include "zeroth/backends/torch/parameters.hpp"
#include "zeroth/backends/torch/sentence_classifier.hpp"
