#pragma once
// First-order state in zeroth's checkpoints. The first-order rules save and load their state as torch::optim's
// optimizers do (save(OutputArchive&) const, load(InputArchive&)); ArchivedState carries that archive as a
// checkpoint's rule state, so that io::RunFolder checkpoints a LOMO, AdaLomo, hybrid or FO-AdamW run beside its
// parameters, and a resumed run continues bit for bit.
#include <cstdint>
#include <cstdio>
#include <functional>
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

/// A checkpoint's rule state: a first-order rule's archive, streamed into the checkpoint in chunks as LibTorch writes
/// it (no copy of AdamW's moments in memory), read back as bytes. load_checkpoint fills a copy and hands it over only
/// once the whole file is verified; apply it then:
///   run.save_checkpoint(store, state, ArchivedState::of(rule));
///   ArchivedState loaded;  state = run.load_checkpoint(store, loaded);  load_archive_bytes(rule, loaded.bytes, ...);
struct ArchivedState {
  static constexpr const char* name = "libtorch";
  using Sink = std::function<std::size_t(const void*, std::size_t)>;
  std::function<void(const Sink&)> write;  ///< saving: writes the archive to a sink
  std::string bytes;                       ///< loading: the archive read back (or, saving without `write`, to write)

  template <Archivable R>
  static ArchivedState of(const R& rule) {
    return {[&rule](const Sink& sink) {
              torch::serialize::OutputArchive archive;
              rule.save(archive);
              archive.save_to(sink);
            },
            {}};
  }

  void save_state(io::Writer& w) const {  // chunks of (size, bytes), then size 0
    const Sink sink = [&w](const void* p, std::size_t n) {
      if (n) {
        w.put(static_cast<std::uint64_t>(n));
        w.bytes(p, n);
      }
      return n;
    };
    if (write)
      write(sink);
    else
      sink(bytes.data(), bytes.size());
    w.put(std::uint64_t{0});
  }
  void load_state(io::Reader& r, const BufferStore&) {
    const long here = std::ftell(r.f);
    std::fseek(r.f, 0, SEEK_END);
    const long end = std::ftell(r.f);
    std::fseek(r.f, here, SEEK_SET);
    std::uint64_t left = here >= 0 && end >= here ? static_cast<std::uint64_t>(end - here) : 0;
    std::string b;
    for (;;) {
      const auto n = r.get<std::uint64_t>("the LibTorch state's chunk size");
      if (n == 0) break;
      left = left >= 8 ? left - 8 : 0;
      if (n > left)
        throw std::runtime_error("zeroth: '" + r.path + "' is truncated or corrupt: a chunk of its LibTorch state of " +
                                 std::to_string(n) + " bytes runs past the end of the file");
      const std::size_t at = b.size();
      b.resize(at + static_cast<std::size_t>(n));
      r.bytes(b.data() + at, static_cast<std::size_t>(n), "the LibTorch state");
      left -= n;
    }
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
