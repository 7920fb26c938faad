#pragma once
// EigenStore: a store over Eigen vectors and matrices the caller owns (float or double, contiguous storage).
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "zeroth/stores/buffer_store.hpp"

namespace zeroth {

/// Blocks over Eigen objects, perturbed and updated in place; one block per object, named x0, x1, ...
///   Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
///   zeroth::EigenStore store(x);
class EigenStore : public BufferStore {
 public:
  template <class... Ds>
  explicit EigenStore(Eigen::PlainObjectBase<Ds>&... objects) {
    (add_object(objects), ...);
  }

  /// Adds another Eigen object as a block called `name`.
  template <class D>
  EigenStore& add(std::string name, Eigen::PlainObjectBase<D>& x, BlockFlags flags = {}) {
    using Scalar = typename D::Scalar;
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "zeroth: EigenStore holds float or double Eigen objects");
    std::vector<std::size_t> shape;
    if (x.cols() != 1) shape = {static_cast<std::size_t>(x.rows()), static_cast<std::size_t>(x.cols())};
    BufferStore::add(std::move(name), x.data(), static_cast<std::size_t>(x.size()), flags, std::move(shape));
    return *this;
  }

 private:
  template <class D>
  void add_object(Eigen::PlainObjectBase<D>& x) {
    add("x" + std::to_string(blocks().size()), x);
  }
};

}  // namespace zeroth
