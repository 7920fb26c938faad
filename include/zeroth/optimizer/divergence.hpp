#pragma once
// The divergence test of Options::divergence over a run's step losses.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "zeroth/optimizer/options.hpp"

namespace zeroth::detail {

/// Feeds step losses to the tests of a DivergenceGuard; check() returns why a loss diverged, or "" if it did not.
class DivergenceMonitor {
 public:
  explicit DivergenceMonitor(const DivergenceGuard& g) : g_(g) {}

  std::string check(double loss) {
    std::ostringstream why;
    why.precision(6);
    if (!first_) first_ = loss;
    const double f0 = *first_;
    if (loss > g_.limit) {
      why << "loss " << loss << " exceeds divergence.limit " << g_.limit;
    } else if (g_.factor > 0 && f0 != 0 && loss > f0 + (g_.factor - 1) * std::abs(f0)) {
      why << "loss " << loss << " exceeds divergence.factor " << g_.factor << " relative to the first loss " << f0;
    } else if (g_.window > 0 && !recent_.empty()) {
      const double m = *std::min_element(recent_.begin(), recent_.end());
      if (m != 0 && loss > m + (g_.growth - 1) * std::abs(m))
        why << "loss " << loss << " exceeds divergence.growth " << g_.growth << " relative to " << m
            << ", the lowest of the last " << recent_.size() << " steps";
    }
    if (g_.window > 0) {
      if (recent_.size() == g_.window) recent_.erase(recent_.begin());
      recent_.push_back(loss);
    }
    return why.str();
  }

 private:
  DivergenceGuard g_;
  std::optional<double> first_;
  std::vector<double> recent_;
};

}  // namespace zeroth::detail
