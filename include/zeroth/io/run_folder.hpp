#pragma once
// RunFolder: the output folder of one training run and its rules. A new run never mixes with an old one, a resumed
// run continues only its own checkpoint with the same settings, and its logs are cut back to that checkpoint.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "zeroth/io/atomic_file.hpp"
#include "zeroth/io/binary.hpp"
#include "zeroth/io/checkpoint.hpp"
#include "zeroth/optimizer/result.hpp"
#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth::io {

/// The options of a run that determine its results, as ordered key -> text pairs; `RunFolder::resume` requires them
/// equal to the saved ones. The caller must set every option that changes the results (model and data files, task,
/// seed, learning rate, method, ...): an option left out is one a resume may change silently. Leave out what does not
/// change the bits (the thread count, the output folder).
///   io::Settings s;
///   s.set("model", a.model).set("lr", a.lr).set("k", a.k);
struct Settings {
  std::vector<std::pair<std::string, std::string>> entries;

  /// Sets `key` (in place when already set, else appended).
  Settings& set(std::string_view key, std::string_view value) {
    for (auto& [k, v] : entries)
      if (k == key) {
        v = value;
        return *this;
      }
    entries.emplace_back(key, value);
    return *this;
  }
  Settings& set(std::string_view key, const char* value) { return set(key, std::string_view(value)); }
  /// The shortest text that reads back as the same double, so that distinct values never compare equal:
  /// 1e-4 is "0.0001", 1.0000004e-4 is "0.00010000004" (where "%g" would print both as "0.0001").
  Settings& set(std::string_view key, double value) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
    return set(key, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }
  /// Integers in decimal, bool as true/false.
  template <std::integral T>
  Settings& set(std::string_view key, T value) {
    if constexpr (std::same_as<T, bool>)
      return set(key, std::string_view(value ? "true" : "false"));
    else
      return set(key, std::string_view(std::to_string(value)));
  }

  /// The value of `key`, or nullptr when it is not set.
  const std::string* find(std::string_view key) const {
    for (const auto& [k, v] : entries)
      if (k == key) return &v;
    return nullptr;
  }

  /// As a JSON object in the order set.
  nlohmann::ordered_json json() const {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [k, v] : entries) j[k] = v;
    return j;
  }
};

/// One file a run writes into its folder.
struct RunFile {
  std::string_view name;
  std::string_view description;
};

namespace detail {

inline constexpr RunFile kRunFiles[] = {
    {"run.json", "the run's id and settings, written when it starts (--resume requires the same settings)"},
    {"checkpoint.bin", "parameters, optimizer state and step counters at the last checkpoint"},
    {"checkpoint.json", "ties checkpoint.bin to the run: run id, step, size and hash (written after it)"},
    {"checkpoint.next.bin", "a checkpoint being written (completed or removed by --resume)"},
    {"trajectory.bin", "per step: seed, learning rate, epsilon, projected gradients (replays the run bit for bit)"},
    {"metrics.jsonl", "one JSON row per step: \"step\" (steps done: 1 for the first), loss, lr, eps, g, evaluations, "
                      "seconds"},
    {"eval.jsonl", "one JSON row per held-out evaluation: \"step\" (steps done, 0 = before training), loss, accuracy"},
    {"summary.json", "the outcome: status (ok, collapsed, non_finite_loss), message, warnings, before/after metrics, "
                     "wall time, settings"},
    {"model.bin", "the fine-tuned model"},
    {"prefix.bin", "the trained prefix (prefix tuning)"},
    {"plot.png", "held-out loss and accuracy against steps"},
    {"args.txt", "the settings file of older versions (never written now; removed by --overwrite)"},
};

inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// 128 random bits in hex, from std::random_device mixed with the time and the process id.
inline std::string new_run_id() {
  std::random_device rd;
  const auto t = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  const auto c = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::uint64_t a = (std::uint64_t{rd()} << 32) ^ rd(), b = (std::uint64_t{rd()} << 32) ^ rd();
  a = splitmix64(a ^ t);
  b = splitmix64(b ^ splitmix64(c ^ static_cast<std::uint64_t>(::getpid())));
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

/// What ties a checkpoint file to its sidecar: the size and a hash of the first and last 4 KiB (which hold the
/// checkpoint's header and its checksum of the whole contents).
struct FileIdentity {
  std::uint64_t bytes = 0, hash = 0;
  bool operator==(const FileIdentity&) const = default;
};

inline FileIdentity identify(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("zeroth: cannot open '" + path.string() + "'");
  FileIdentity id;
  id.bytes = std::filesystem::file_size(path);
  const std::uint64_t head = std::min<std::uint64_t>(id.bytes, 4096);
  const std::uint64_t tail = std::min<std::uint64_t>(id.bytes - head, 4096);
  std::vector<char> buf(static_cast<std::size_t>(head + tail));
  in.read(buf.data(), static_cast<std::streamsize>(head));
  in.seekg(static_cast<std::streamoff>(id.bytes - tail));
  in.read(buf.data() + head, static_cast<std::streamsize>(tail));
  if (!in) throw std::runtime_error("zeroth: cannot read '" + path.string() + "'");
  id.hash = fnv1a(buf.data(), buf.size());
  return id;
}

/// The step a zeroth checkpoint holds, from its header.
inline std::uint64_t checkpoint_header_step(const std::filesystem::path& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(open_read(path), &std::fclose);
  Reader r{f.get(), path.string()};
  char magic[4];
  r.bytes(magic, 4, "magic");
  if (std::memcmp(magic, zeroth::detail::kCheckpointMagic, 4) != 0)
    throw std::runtime_error("zeroth: checkpoint '" + path.string() + "': not a zeroth checkpoint");
  r.get<std::uint32_t>("version");
  return r.get<std::uint64_t>("step");
}

inline std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// The "step" of one JSONL row, or nothing when the line is not a JSON object with an unsigned integer "step".
inline std::optional<std::uint64_t> row_step(std::string_view line) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find("step");
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("zeroth: cannot open '" + path.string() + "'");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void sync_dir(const std::filesystem::path& dir) {
  if (int fd = ::open(dir.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace detail

/// Cuts a JSONL log back to the rows whose "step" is at most `max_step`: from the first row past it (or the first
/// torn row, a last line without its newline) to the end. Returns the rows removed; a missing file is left missing.
/// A malformed row before the cut throws, naming the file and the line.
///   io::truncate_jsonl("runs/x/eval.jsonl", 250);
inline std::size_t truncate_jsonl(const std::filesystem::path& path, std::uint64_t max_step) {
  if (!std::filesystem::exists(path)) return 0;
  const std::string text = detail::read_all(path);
  std::size_t pos = 0, line = 0, cut = text.size();
  while (pos < text.size()) {
    ++line;
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) {  // torn: killed while writing the row
      cut = pos;
      break;
    }
    const auto step = detail::row_step(std::string_view(text).substr(pos, end - pos));
    if (!step)
      throw std::runtime_error("zeroth: '" + path.string() + "' line " + std::to_string(line) +
                               " is not a JSON row with a \"step\"");
    if (*step > max_step) {
      cut = pos;
      break;
    }
    pos = end + 1;
  }
  if (cut == text.size()) return 0;
  const auto removed = static_cast<std::size_t>(std::count(text.begin() + static_cast<long>(cut), text.end(), '\n')) +
                       (text.back() == '\n' ? 0 : 1);
  std::filesystem::resize_file(path, cut);
  return removed;
}

/// Whether a JSONL log has a row with this "step" (a missing file has none; malformed lines are skipped).
inline bool jsonl_has_step(const std::filesystem::path& path, std::uint64_t step) {
  if (!std::filesystem::exists(path)) return false;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);)
    if (detail::row_step(line) == step) return true;
  return false;
}

namespace detail {
inline void append_line(const std::filesystem::path& path, const std::string& line) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) throw std::runtime_error("zeroth: cannot open '" + path.string() + "' for writing: " + std::strerror(errno));
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size() && std::fflush(f) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !ok)
    throw std::runtime_error("zeroth: writing '" + path.string() + "' failed: " + std::strerror(ok ? errno : err));
}
}  // namespace detail

/// Appends one row to a JSONL log and flushes it; throws naming the file and the error when the write fails.
inline void append_jsonl(const std::filesystem::path& path, const nlohmann::json& row) {
  detail::append_line(path, row.dump() + "\n");
}
inline void append_jsonl(const std::filesystem::path& path, const nlohmann::ordered_json& row) {
  detail::append_line(path, row.dump() + "\n");
}

/// The output folder of a run: its settings and random run id (run.json), a checkpoint tied to that id, the logs.
/// Only one process at a time holds a folder (an flock on it, released when the RunFolder is destroyed).
///   auto run = resume ? io::RunFolder::resume(out, settings) : io::RunFolder::create(out, settings, overwrite);
///   opt.state() = run.load_checkpoint(store, opt.preconditioner());  // step 0 without a checkpoint
///   opt.minimize(f, store, JsonlLogger(run.file("metrics.jsonl"), true), run.checkpointer(250));
class RunFolder {
 public:
  /// The files a run writes, with one line each (for --help); `file()` accepts these names and the extra ones given
  /// to create/resume.
  static std::span<const RunFile> files() noexcept { return detail::kRunFiles; }

  /// Starts a new run in `dir`. A folder that holds a run (any of its files) is never mixed with a new one: it is
  /// refused, or with `overwrite` its run's files are removed first (and only those: a folder that also holds
  /// other files is refused, naming one). `extra` names more files (or folders) the caller writes, known like
  /// files()'s.
  static RunFolder create(const std::filesystem::path& dir, const Settings& settings, bool overwrite = false,
                          std::span<const RunFile> extra = {}) {
    namespace fs = std::filesystem;
    RunFolder rf(dir, extra);
    if (fs::exists(dir)) {
      if (!fs::is_directory(dir)) throw std::runtime_error("zeroth: '" + dir.string() + "' is not a folder");
      rf.lock();
      std::vector<std::string> known, other;
      for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        const bool ours = e.is_directory() ? rf.is_extra(name)  // a folder the caller writes (a model folder)
                                           : rf.known(name) || rf.stale_temporary(name);
        (ours ? known : other).push_back(name);
      }
      std::sort(known.begin(), known.end());
      std::sort(other.begin(), other.end());
      if (!known.empty()) {
        std::string which = known.front();
        for (const char* marker : {"checkpoint.bin", "args.txt", "run.json"})
          if (std::find(known.begin(), known.end(), marker) != known.end()) which = marker;
        if (!overwrite)
          throw std::runtime_error("zeroth: '" + dir.string() + "' already holds a run (" + which +
                                   "); pass --resume to continue it, --overwrite to replace it, or choose another "
                                   "--out");
        if (!other.empty())
          throw std::runtime_error("zeroth: --overwrite: '" + dir.string() + "' also holds '" + other.front() +
                                   "', which is not a file of a run; --overwrite removes only a run's files: move " +
                                   (other.size() > 1 ? "them" : "it") + " away or choose another --out");
        // The files saying which run this is go first: a kill part-way leaves no run to resume by mistake.
        for (const char* first : {"run.json", "checkpoint.json"}) fs::remove(dir / first);
        for (const auto& name : known) fs::remove_all(dir / name);
      }
    } else {
      fs::create_directories(dir);
      rf.lock();
    }
    rf.run_id_ = detail::new_run_id();
    rf.settings_ = settings;
    nlohmann::ordered_json j;
    j["run_id"] = rf.run_id_;
    j["settings"] = settings.json();
    write_atomic(rf.file("run.json"), j.dump(2) + "\n");
    return rf;
  }

  /// Continues the run in `dir`: it must hold one (run.json) with exactly these settings (every difference is
  /// named), and its checkpoint, if any, must be this run's (checkpoint.json: run id, size and hash). Removes the
  /// temporaries of writes a kill interrupted, and cuts metrics.jsonl and eval.jsonl back to the checkpoint's step.
  static RunFolder resume(const std::filesystem::path& dir, const Settings& settings,
                          std::span<const RunFile> extra = {}) {
    namespace fs = std::filesystem;
    RunFolder rf(dir, extra);
    const std::string where = "'" + dir.string() + "'";
    if (!fs::is_regular_file(rf.file("run.json"))) {
      if (fs::exists(rf.file("args.txt")))
        throw std::runtime_error("zeroth: --resume: " + where +
                                 " holds a run of an older version (args.txt, no run.json), which cannot be resumed "
                                 "safely; start it again with --overwrite");
      throw std::runtime_error("zeroth: --resume: " + where + " holds no run (no run.json)");
    }
    rf.lock();
    const auto saved = read_json(rf.file("run.json"));
    if (!saved.is_object() || !saved.contains("run_id") || !saved["run_id"].is_string() ||
        !saved.contains("settings") || !saved["settings"].is_object())
      throw std::runtime_error("zeroth: '" + rf.file("run.json").string() + "' is corrupt (no run_id or settings)");
    rf.run_id_ = saved["run_id"].get<std::string>();
    if (rf.run_id_.empty())
      throw std::runtime_error("zeroth: '" + rf.file("run.json").string() + "' is corrupt (run_id)");
    for (const auto& [k, v] : saved["settings"].items()) {
      if (!v.is_string())
        throw std::runtime_error("zeroth: '" + rf.file("run.json").string() + "' is corrupt (setting '" + k + "')");
      rf.settings_.set(k, v.get<std::string>());
    }
    check_same(rf.settings_, settings, dir);

    for (const auto& e : fs::directory_iterator(dir))
      if (rf.stale_temporary(e.path().filename().string()) && !e.is_directory()) fs::remove(e.path());
    rf.recover_checkpoint();
    // Both logs number a row by steps done (the checkpoint's step is the last row to keep).
    const std::uint64_t step = rf.checkpoint_step();
    truncate_jsonl(rf.file("metrics.jsonl"), step);
    truncate_jsonl(rf.file("eval.jsonl"), step);
    return rf;
  }

  RunFolder(RunFolder&& o) noexcept
      : dir_(std::move(o.dir_)),
        extra_(std::move(o.extra_)),
        run_id_(std::move(o.run_id_)),
        settings_(std::move(o.settings_)),
        checkpoint_step_(o.checkpoint_step_),
        lock_fd_(std::exchange(o.lock_fd_, -1)) {}
  RunFolder& operator=(RunFolder&& o) noexcept {
    if (this != &o) {
      release();
      dir_ = std::move(o.dir_);
      extra_ = std::move(o.extra_);
      run_id_ = std::move(o.run_id_);
      settings_ = std::move(o.settings_);
      checkpoint_step_ = o.checkpoint_step_;
      lock_fd_ = std::exchange(o.lock_fd_, -1);
    }
    return *this;
  }
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;
  ~RunFolder() { release(); }

  const std::filesystem::path& path() const noexcept { return dir_; }
  /// The path of one of the run's files; throws for a name not in files() (nor given as extra).
  std::filesystem::path file(std::string_view name) const {
    if (!known(name))
      throw std::invalid_argument("zeroth: '" + std::string(name) +
                                  "' is not a file of a run (see RunFolder::files())");
    return dir_ / std::string(name);
  }
  /// 32 hex digits, new for every created run.
  const std::string& run_id() const noexcept { return run_id_; }
  /// The run's settings (as saved, for a resumed run; they equal the given ones).
  const Settings& settings() const noexcept { return settings_; }
  bool has_checkpoint() const noexcept { return checkpoint_step_.has_value(); }
  /// The step of the run's checkpoint (the next step to take), 0 when there is none.
  std::uint64_t checkpoint_step() const noexcept { return checkpoint_step_.value_or(0); }

  /// Saves a checkpoint tied to this run: checkpoint.next.bin, then checkpoint.json describing it, then the rename
  /// to checkpoint.bin (resume completes or discards an interrupted one, so a kill at any point leaves a resumable
  /// folder).
  template <class R>
  void save_checkpoint(const BufferStore& store, const RunState& state, const R& rule) {
    const auto next = file("checkpoint.next.bin");
    zeroth::save_checkpoint(next, store, state, rule);
    const auto id = detail::identify(next);
    nlohmann::ordered_json j;
    j["run_id"] = run_id_;
    j["step"] = state.step;
    j["bytes"] = id.bytes;
    j["hash"] = detail::hex64(id.hash);
    write_atomic(file("checkpoint.json"), j.dump(2) + "\n");
    std::filesystem::rename(next, file("checkpoint.bin"));
    detail::sync_dir(dir_);
    checkpoint_step_ = state.step;
  }
  void save_checkpoint(const BufferStore& store, const RunState& state) { save_checkpoint(store, state, Identity{}); }

  /// Loads the run's checkpoint into `store` and `rule` and returns its state; without a checkpoint, returns step 0
  /// and leaves both untouched.
  template <class R>
  RunState load_checkpoint(BufferStore& store, R& rule) const {
    if (!checkpoint_step_) return {};
    const RunState s = zeroth::load_checkpoint(file("checkpoint.bin"), store, rule);
    if (s.step != *checkpoint_step_)
      throw std::runtime_error("zeroth: '" + file("checkpoint.bin").string() + "' holds step " +
                               std::to_string(s.step) + ", checkpoint.json says " + std::to_string(*checkpoint_step_));
    return s;
  }
  RunState load_checkpoint(BufferStore& store) const {
    Identity none;
    return load_checkpoint(store, none);
  }

  /// Callback that saves the run's checkpoint every `every` steps (after steps every-1, 2 every-1, ...).
  class Checkpointer {
   public:
    Checkpointer(RunFolder& folder, std::uint64_t every) : folder_(&folder), every_(every) {}
    template <class RunT>
    void on_step(const StepInfo& s, RunT& run) {
      if (!s.rolled_back && every_ > 0 && (s.step + 1) % every_ == 0)
        folder_->save_checkpoint(run.store(), run.state(), run.preconditioner());
    }
    std::string name() const { return "RunFolder::Checkpointer"; }

   private:
    RunFolder* folder_;
    std::uint64_t every_;
  };
  Checkpointer checkpointer(std::uint64_t every) { return Checkpointer(*this, every); }

  /// Whether eval.jsonl has the evaluation after `step` steps (one a kill between checkpoint and evaluation lost).
  bool has_evaluation(std::uint64_t step) const { return jsonl_has_step(file("eval.jsonl"), step); }

  /// Writes summary.json atomically.
  void write_summary(const nlohmann::json& summary) const {
    write_atomic(file("summary.json"), summary.dump(2) + "\n");
  }
  void write_summary(const nlohmann::ordered_json& summary) const {
    write_atomic(file("summary.json"), summary.dump(2) + "\n");
  }

 private:
  RunFolder(std::filesystem::path dir, std::span<const RunFile> extra) : dir_(std::move(dir)) {
    for (const RunFile& f : extra) extra_.emplace_back(f.name);
  }

  bool is_extra(std::string_view name) const noexcept {
    return std::find(extra_.begin(), extra_.end(), name) != extra_.end();
  }

  bool known(std::string_view name) const noexcept {
    return std::any_of(files().begin(), files().end(), [&](const RunFile& f) { return f.name == name; }) ||
           std::find(extra_.begin(), extra_.end(), name) != extra_.end();
  }

  // "<a run file>.tmp.<pid>": what io::write_atomic leaves when killed.
  bool stale_temporary(std::string_view name) const noexcept {
    const auto at = name.rfind(".tmp.");
    if (at == std::string_view::npos || at + 5 == name.size()) return false;
    const auto pid = name.substr(at + 5);
    return std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           known(name.substr(0, at));
  }

  void lock() {
    lock_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_fd_ < 0) throw std::runtime_error("zeroth: cannot open '" + dir_.string() + "': " + std::strerror(errno));
    // Only a lock held elsewhere refuses; a file system without flock on folders (some NFS) goes unlocked.
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
      release();
      throw std::runtime_error("zeroth: '" + dir_.string() + "' is in use by another process");
    }
  }
  void release() noexcept {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
    lock_fd_ = -1;
  }

  static nlohmann::ordered_json read_json(const std::filesystem::path& path) {
    auto j = nlohmann::ordered_json::parse(detail::read_all(path), nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("zeroth: '" + path.string() + "' is not valid JSON");
    return j;
  }

  static void check_same(const Settings& saved, const Settings& given, const std::filesystem::path& dir) {
    auto show = [](const std::string* v) { return v ? (v->empty() ? std::string("''") : *v) : std::string("(unset)"); };
    std::string diff;
    auto note = [&](const std::string& key) {
      const std::string *a = saved.find(key), *b = given.find(key);
      if (a && b && *a == *b) return;
      diff += (diff.empty() ? "" : "; ") +
              ("option '" + key + "' differs: the run in '" + dir.string() + "' has " + show(a) + ", now " + show(b));
    };
    for (const auto& [k, v] : saved.entries) note(k);
    for (const auto& [k, v] : given.entries)
      if (!saved.find(k)) note(k);
    if (!diff.empty()) throw std::invalid_argument("zeroth: --resume: " + diff);
  }

  // Finds the run's checkpoint: completes or discards an interrupted save, then checks the checkpoint is this run's.
  void recover_checkpoint() {
    namespace fs = std::filesystem;
    const auto bin = file("checkpoint.bin"), next = file("checkpoint.next.bin"), side = file("checkpoint.json");
    const std::string refuse = "zeroth: --resume: ";
    const std::string again = "; start the run again with --overwrite, or choose another --out";
    std::optional<std::uint64_t> step;
    detail::FileIdentity id;
    if (fs::exists(side)) {
      const auto j = read_json(side);
      if (!j.is_object() || !j.contains("run_id") || !j["run_id"].is_string() || !j.contains("step") ||
          !j["step"].is_number_unsigned() || !j.contains("bytes") || !j["bytes"].is_number_unsigned() ||
          !j.contains("hash") || !j["hash"].is_string())
        throw std::runtime_error("zeroth: '" + side.string() + "' is corrupt");
      if (j["run_id"].get<std::string>() != run_id_)
        throw std::runtime_error(refuse + "the checkpoint in '" + dir_.string() + "' belongs to run " +
                                 j["run_id"].get<std::string>() + ", not to the run of its run.json (" + run_id_ + ")" +
                                 again);
      step = j["step"].get<std::uint64_t>();
      id.bytes = j["bytes"].get<std::uint64_t>();
      const auto hash = j["hash"].get<std::string>();
      const auto r = std::from_chars(hash.data(), hash.data() + hash.size(), id.hash, 16);
      if (r.ec != std::errc{} || r.ptr != hash.data() + hash.size())
        throw std::runtime_error("zeroth: '" + side.string() + "' is corrupt (hash)");
    }
    if (fs::exists(next)) {  // killed while saving: after checkpoint.json, finish the rename; before it, discard
      if (step && detail::identify(next) == id) {
        fs::rename(next, bin);
        detail::sync_dir(dir_);
      } else {
        fs::remove(next);
      }
    }
    if (fs::exists(bin)) {
      if (!step)
        throw std::runtime_error(refuse + "'" + bin.string() + "' has no checkpoint.json: it was not written by " +
                                 "this run" + again);
      if (detail::identify(bin) != id || detail::checkpoint_header_step(bin) != *step)
        throw std::runtime_error(refuse + "'" + bin.string() + "' does not match checkpoint.json (step " +
                                 std::to_string(*step) + ", " + std::to_string(id.bytes) + " bytes): it was not " +
                                 "written by this run" + again);
    } else if (step) {
      throw std::runtime_error(refuse + "'" + side.string() + "' describes a checkpoint at step " +
                               std::to_string(*step) + " but '" + bin.string() + "' is missing");
    }
    checkpoint_step_ = step;
  }

  std::filesystem::path dir_;
  std::vector<std::string> extra_;  ///< the names of the caller's extra files
  std::string run_id_;
  Settings settings_;
  std::optional<std::uint64_t> checkpoint_step_;
  int lock_fd_ = -1;
};

}  // namespace zeroth::io
