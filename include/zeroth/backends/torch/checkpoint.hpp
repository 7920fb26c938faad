#pragma once
// First-order state in zeroth's checkpoints. The first-order rules save and load their state as torch::optim's
// optimizers do (save(OutputArchive&) const, load(InputArchive&)); ArchivedState carries those bytes as a
// checkpoint's rule state, so that io::RunFolder checkpoints a LOMO, AdaLomo, hybrid or FO-AdamW run beside its
// parameters, and a resumed run continues bit for bit.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "zeroth/io/binary.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth::libtorch {

/// A rule that saves and loads its state as torch::optim::Optimizer does.
template <class R>
concept Archivable = requires(const R& cr, R& r, torch::serialize::OutputArchive& out,
                              torch::serialize::InputArchive& in) {
  cr.save(out);
  r.load(in);
};

/// The bytes of a rule's archive.
template <Archivable R>
std::string archive_bytes(const R& rule) {
  torch::serialize::OutputArchive archive;
  rule.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

/// Loads bytes from archive_bytes into a rule; throws std::runtime_error saying `what` for bytes that are not one.
template <Archivable R>
void load_archive_bytes(R& rule, const std::string& bytes, const std::string& what) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const c10::Error& e) {
    throw std::runtime_error("zeroth: " + what + ": not a LibTorch archive (" + e.what_without_backtrace() + ")");
  }
  rule.load(archive);
}

/// A checkpoint's rule state holding a first-order rule's archive bytes. load_checkpoint fills a copy and hands it
/// over only once the whole file is verified; apply it then:
///   ArchivedState saved{archive_bytes(rule)};  run.save_checkpoint(store, state, saved);
///   ArchivedState loaded;  state = run.load_checkpoint(store, loaded);  load_archive_bytes(rule, loaded.bytes, ...);
struct ArchivedState {
  static constexpr const char* name = "libtorch";
  std::string bytes;

  void save_state(io::Writer& w) const {
    w.put(static_cast<std::uint64_t>(bytes.size()));
    w.bytes(bytes.data(), bytes.size());
  }
  void load_state(io::Reader& r, const BufferStore&) {
    const auto n = r.get<std::uint64_t>("the LibTorch state's size");
    if (n > (std::uint64_t{1} << 40)) throw std::runtime_error("zeroth: '" + r.path + "': corrupt LibTorch state size");
    std::string b(static_cast<std::size_t>(n), '\0');
    r.bytes(b.data(), b.size(), "the LibTorch state");
    bytes = std::move(b);
  }
};

/// A zeroth update rule's checkpoint state (save_state) as bytes, and back (the rule changed only when the bytes load
/// whole): for a rule inside a first-order one's archive, as hybrid's ZO part.
template <class R>
std::string rule_state_bytes(const R& rule) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::tmpfile(), &std::fclose);
  if (!f) throw std::runtime_error("zeroth: no temporary file for an update rule's state");
  io::Writer w{f.get()};
  rule.save_state(w);
  std::string bytes(static_cast<std::size_t>(std::ftell(f.get())), '\0');
  std::rewind(f.get());
  if (std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    throw std::runtime_error("zeroth: reading back an update rule's state failed");
  return bytes;
}
template <class R>
void load_rule_state_bytes(R& rule, const std::string& bytes, const BufferStore& store, const std::string& what) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::tmpfile(), &std::fclose);
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    throw std::runtime_error("zeroth: no temporary file for an update rule's state");
  std::rewind(f.get());
  io::Reader r{f.get(), what};
  R loaded(rule);
  loaded.load_state(r, store);
  if (std::fgetc(f.get()) != EOF) throw std::runtime_error("zeroth: " + what + ": trailing bytes");
  rule = std::move(loaded);
}

namespace detail {
/// A vector's elements as a 1-D tensor (a copy) and back, checking the size; for the rules' archives.
template <class T>
torch::Tensor vector_tensor(const std::vector<T>& v, torch::ScalarType type) {
  return torch::from_blob(const_cast<T*>(v.data()), {static_cast<std::int64_t>(v.size())}, type).clone();
}
template <class T>
std::vector<T> read_vector(torch::serialize::InputArchive& in, const std::string& key, std::size_t size,
                           torch::ScalarType type) {
  torch::Tensor t;
  in.read(key, t);
  if (t.scalar_type() != type || t.dim() != 1 || static_cast<std::size_t>(t.numel()) != size)
    throw std::runtime_error("zeroth: the saved state's '" + key + "' has " + std::to_string(t.numel()) + " " +
                             std::string(c10::toString(t.scalar_type())) + " elements, the rule needs " +
                             std::to_string(size) + " " + std::string(c10::toString(type)));
  t = t.contiguous();
  return std::vector<T>(t.data_ptr<T>(), t.data_ptr<T>() + size);
}
}  // namespace detail

}  // namespace zeroth::libtorch
