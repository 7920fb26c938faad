// RunFolder: a new run never mixes with an old one, a resume continues only its own checkpoint with the same
// settings, an interrupted checkpoint write is completed or discarded, and the logs are cut back to the checkpoint.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <zeroth/io/run_folder.hpp>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
using io::RunFolder;
namespace fs = std::filesystem;

namespace {
// A fresh, empty folder for each test case.
fs::path fresh(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("zeroth_run_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p.parent_path());
  return p;
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void put(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
io::Settings settings(double lr = 1e-4) {
  io::Settings s;
  s.set("model", "m.bin").set("lr", lr).set("k", std::size_t{512}).set("seed", 7);
  return s;
}
struct Model {
  std::vector<float> w;
  BufferStore store;
  explicit Model(float start = 0) : w(2000) {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = start + std::sin(float(i));
    store.add("w", w.data(), w.size());
  }
  double loss() const {
    double s = 0;
    for (std::size_t i = 0; i < w.size(); ++i) s += (w[i] - 0.5) * (w[i] - 0.5) * (1 + i % 3);
    return s;
  }
};
std::vector<std::uint64_t> steps_of(const fs::path& p) {
  std::vector<std::uint64_t> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line)["step"]);
  return out;
}
}  // namespace

TEST_CASE("settings keep their order and tell apart values that %g would print alike", "[run]") {
  io::Settings s;
  s.set("lr", 1e-4).set("eps", 1.0000004e-4).set("k", 512).set("bf16", false).set("name", "x");
  s.set("k", std::uint64_t{18446744073709551615ull});  // replaced in place
  REQUIRE(s.entries.size() == 5);
  CHECK(s.entries[0] == std::pair<std::string, std::string>{"lr", "0.0001"});
  CHECK(*s.find("eps") == "0.00010000004");
  CHECK(s.entries[2] == std::pair<std::string, std::string>{"k", "18446744073709551615"});
  CHECK(*s.find("bf16") == "false");
  CHECK(*s.find("name") == "x");
  CHECK(s.find("missing") == nullptr);
  CHECK(std::stod(*io::Settings{}.set("v", 0.1 + 0.2).find("v")) == 0.1 + 0.2);  // reads back exactly
}

TEST_CASE("a new run writes its settings and a fresh 128-bit run id; the files are listed", "[run]") {
  const auto dir = fresh("new") / "nested";
  std::string first;
  {
    auto rf = RunFolder::create(dir, settings());
    CHECK(fs::is_directory(dir));
    CHECK(rf.path() == dir);
    CHECK(rf.file("metrics.jsonl") == dir / "metrics.jsonl");
    CHECK_THROWS_WITH(rf.file("notes.txt"), Catch::Contains("'notes.txt' is not a file of a run"));
    CHECK(rf.run_id().size() == 32);
    CHECK(rf.run_id().find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK_FALSE(rf.has_checkpoint());
    const auto j = nlohmann::ordered_json::parse(slurp(dir / "run.json"));
    CHECK(j["run_id"] == rf.run_id());
    CHECK(j["settings"].dump() == R"({"model":"m.bin","lr":"0.0001","k":"512","seed":"7"})");
    rf.write_summary(nlohmann::json{{"status", "done"}});
    CHECK(nlohmann::json::parse(slurp(dir / "summary.json"))["status"] == "done");
    first = rf.run_id();
  }
  auto again = RunFolder::create(dir, settings(), true);
  CHECK(again.run_id() != first);
  bool listed = false;
  for (const io::RunFile& f : RunFolder::files()) {
    CHECK_FALSE(f.description.empty());
    listed |= f.name == "checkpoint.json";
  }
  CHECK(listed);
}

TEST_CASE("a folder holding a run is never mixed with a new one; --overwrite removes only a run's files", "[run]") {
  const auto dir = fresh("mix");
  { RunFolder::create(dir, settings()); }
  CHECK_THROWS_WITH(RunFolder::create(dir, settings()),
                    Catch::Contains("'" + dir.string() +
                                    "' already holds a run (run.json); pass --resume to continue "
                                    "it, --overwrite to replace it, or choose another --out"));
  // The old layout (args.txt and a checkpoint, no run.json) counts too, and so does any single run file.
  const auto old = fresh("old");
  fs::create_directories(old);
  put(old / "args.txt", "lr=0.0001\n");
  put(old / "checkpoint.bin", "x");
  CHECK_THROWS_WITH(RunFolder::create(old, settings()), Catch::Contains("already holds a run (args.txt)"));
  CHECK_THROWS_WITH(RunFolder::resume(old, settings()),
                    Catch::Contains("older version (args.txt, no run.json)") && Catch::Contains("--overwrite"));
  const auto lone = fresh("lone");
  fs::create_directories(lone);
  put(lone / "metrics.jsonl", "");
  CHECK_THROWS_WITH(RunFolder::create(lone, settings()), Catch::Contains("already holds a run (metrics.jsonl)"));
  // A folder with other files only is fine for a new run.
  const auto other = fresh("other");
  fs::create_directories(other);
  put(other / "notes.txt", "mine");
  { RunFolder::create(other, settings()); }
  CHECK(slurp(other / "notes.txt") == "mine");
  // --overwrite with a file that is not a run's: refused, naming it, and nothing removed.
  CHECK_THROWS_WITH(RunFolder::create(other, settings(), true),
                    Catch::Contains("also holds 'notes.txt', which is not a file of a run"));
  CHECK(fs::exists(other / "run.json"));
  // --overwrite of a run's files only: all of them go, stale temporaries included.
  for (const char* f : {"checkpoint.bin.tmp.4194305", "model.bin", "eval.jsonl", "metrics.jsonl"}) put(old / f, "x");
  auto rf = RunFolder::create(old, settings(), true);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(old)) left.push_back(e.path().filename().string());
  CHECK(left == std::vector<std::string>{"run.json"});
  CHECK(nlohmann::json::parse(slurp(old / "run.json"))["run_id"] == rf.run_id());
  // A folder the caller writes (the fine-tuner's model/, named in `extra`) is the run's too: --overwrite removes it
  // (it used to refuse a second BERT run in the same --out); a folder nobody named is still refused.
  const auto bert = fresh("bert");
  const std::vector<io::RunFile> extra = {{"model", "the fine-tuned model folder"}};
  { RunFolder::create(bert, settings(), false, extra); }
  fs::create_directories(bert / "model");
  put(bert / "model" / "config.json", "{}");
  { RunFolder::create(bert, settings(), true, extra); }
  CHECK_FALSE(fs::exists(bert / "model"));
  fs::create_directories(bert / "mine");
  CHECK_THROWS_WITH(RunFolder::create(bert, settings(), true, extra), Catch::Contains("also holds 'mine'"));
}

TEST_CASE("resume needs a run with exactly the same settings, and names every difference", "[run]") {
  const auto dir = fresh("resume");
  CHECK_THROWS_WITH(RunFolder::resume(dir, settings()),
                    Catch::Equals("zeroth: --resume: '" + dir.string() + "' holds no run (no run.json)"));
  CHECK_FALSE(fs::exists(dir));  // not created
  std::string id;
  {
    auto rf = RunFolder::create(dir, settings());
    id = rf.run_id();
  }
  CHECK_THROWS_WITH(RunFolder::resume(dir, settings(1.0000004e-4)),
                    Catch::Equals("zeroth: --resume: option 'lr' differs: the run in '" + dir.string() +
                                  "' has 0.0001, now 0.00010000004"));
  auto more = settings();
  more.set("seed", 8).set("tokenizer", "t.bin");
  CHECK_THROWS_WITH(
      RunFolder::resume(dir, more),
      Catch::Contains("option 'seed' differs: the run in '" + dir.string() + "' has 7, now 8; ") &&
          Catch::Contains("option 'tokenizer' differs: the run in '" + dir.string() + "' has (unset), now t.bin"));
  auto fewer = settings();
  fewer.entries.pop_back();
  CHECK_THROWS_WITH(RunFolder::resume(dir, fewer), Catch::Contains("'seed' differs") && Catch::Contains("now (unset)"));
  auto rf = RunFolder::resume(dir, settings());
  CHECK(rf.run_id() == id);
  CHECK(rf.settings().entries == settings().entries);
  // One process at a time.
  CHECK_THROWS_WITH(RunFolder::resume(dir, settings()), Catch::Contains("is in use by another process"));
  CHECK_THROWS_WITH(RunFolder::create(dir, settings(), true), Catch::Contains("is in use by another process"));
}

TEST_CASE("a new run in a used folder, killed before its first checkpoint, resumes from step 0", "[run]") {
  const auto dir = fresh("stale");
  Model old(1.0f);
  {
    auto rf = RunFolder::create(dir, settings());
    rf.save_checkpoint(old.store, {1000, 2000});
  }
  { auto rf = RunFolder::create(dir, settings(), true); }  // the new run, killed before step 1
  auto rf = RunFolder::resume(dir, settings());
  CHECK_FALSE(rf.has_checkpoint());
  CHECK(rf.checkpoint_step() == 0);
  Model fresh_model;
  const auto before = fresh_model.w;
  CHECK(rf.load_checkpoint(fresh_model.store).step == 0);
  CHECK(fresh_model.w == before);  // no stale weights
}

TEST_CASE("a checkpoint that is not this run's is refused", "[run]") {
  const auto a = fresh("a"), b = fresh("b");
  Model m;
  { RunFolder::create(a, settings()).save_checkpoint(m.store, {50, 100}); }
  { RunFolder::create(b, settings()); }
  // Another run's checkpoint.bin without its sidecar (the old bug's layout), then with it.
  fs::copy_file(a / "checkpoint.bin", b / "checkpoint.bin");
  CHECK_THROWS_WITH(RunFolder::resume(b, settings()),
                    Catch::Contains("checkpoint.bin' has no checkpoint.json: it was not written by this run"));
  fs::copy_file(a / "checkpoint.json", b / "checkpoint.json");
  CHECK_THROWS_WITH(RunFolder::resume(b, settings()),
                    Catch::Contains("belongs to run") && Catch::Contains("not to the run of its run.json"));
  // This run's sidecar, but checkpoint.bin replaced by another file.
  fs::remove(b / "checkpoint.bin");
  fs::remove(b / "checkpoint.json");
  Model other(3.0f);
  { RunFolder::resume(b, settings()).save_checkpoint(m.store, {50, 100}); }
  zeroth::save_checkpoint(b / "checkpoint.bin", other.store, {50, 100});
  CHECK_THROWS_WITH(RunFolder::resume(b, settings()),
                    Catch::Contains("does not match checkpoint.json (step 50, ") && Catch::Contains("not written"));
  fs::remove(b / "checkpoint.bin");
  CHECK_THROWS_WITH(RunFolder::resume(b, settings()),
                    Catch::Contains("describes a checkpoint at step 50 but") && Catch::Contains("missing"));
}

TEST_CASE("a checkpoint write killed at any point leaves a resumable folder", "[run]") {
  const auto dir = fresh("kill");
  Model m, m2(2.0f);
  {
    auto rf = RunFolder::create(dir, settings());
    rf.save_checkpoint(m.store, {50, 100});
  }
  const auto bin50 = slurp(dir / "checkpoint.bin"), side50 = slurp(dir / "checkpoint.json");
  {
    auto rf = RunFolder::resume(dir, settings());
    CHECK(rf.checkpoint_step() == 50);
    rf.save_checkpoint(m2.store, {60, 120});
  }
  const auto bin60 = slurp(dir / "checkpoint.bin"), side60 = slurp(dir / "checkpoint.json");
  // Killed after writing checkpoint.next.bin, before checkpoint.json: the new checkpoint is discarded.
  put(dir / "checkpoint.bin", bin50);
  put(dir / "checkpoint.json", side50);
  put(dir / "checkpoint.next.bin", bin60);
  put(dir / "checkpoint.bin.tmp.4194305", "torn");  // and a temporary of an earlier kill
  {
    auto rf = RunFolder::resume(dir, settings());
    CHECK(rf.checkpoint_step() == 50);
    CHECK_FALSE(fs::exists(dir / "checkpoint.next.bin"));
    CHECK_FALSE(fs::exists(dir / "checkpoint.bin.tmp.4194305"));
  }
  // Killed after checkpoint.json, before the rename: the rename is completed.
  put(dir / "checkpoint.json", side60);
  put(dir / "checkpoint.next.bin", bin60);
  {
    auto rf = RunFolder::resume(dir, settings());
    CHECK(rf.checkpoint_step() == 60);
    CHECK(slurp(dir / "checkpoint.bin") == bin60);
    Model into;
    CHECK(rf.load_checkpoint(into.store).step == 60);
    CHECK(into.w == m2.w);
  }
  // Only temporaries of a run's files are removed.
  put(dir / "notes.txt.tmp.12", "mine");
  { RunFolder::resume(dir, settings()); }
  CHECK(fs::exists(dir / "notes.txt.tmp.12"));
}

TEST_CASE("jsonl logs are cut back to a step, a torn last row included", "[run]") {
  const auto dir = fresh("jsonl");
  fs::create_directories(dir);
  CHECK(io::truncate_jsonl(dir / "missing.jsonl", 3) == 0);
  CHECK_FALSE(fs::exists(dir / "missing.jsonl"));
  put(dir / "m.jsonl", "{\"step\":0}\n{\"step\":1,\"x\":2}\n{\"step\":2}\n{\"step\":3}\n{\"step\":4}\n{\"st");
  CHECK(io::truncate_jsonl(dir / "m.jsonl", 9) == 1);  // only the torn row
  CHECK(steps_of(dir / "m.jsonl") == std::vector<std::uint64_t>{0, 1, 2, 3, 4});
  CHECK(io::truncate_jsonl(dir / "m.jsonl", 1) == 3);
  CHECK(slurp(dir / "m.jsonl") == "{\"step\":0}\n{\"step\":1,\"x\":2}\n");
  CHECK(io::jsonl_has_step(dir / "m.jsonl", 1));
  CHECK_FALSE(io::jsonl_has_step(dir / "m.jsonl", 2));
  CHECK_FALSE(io::jsonl_has_step(dir / "missing.jsonl", 0));
  put(dir / "bad.jsonl", "{\"step\":0}\nnot json\n{\"step\":5}\n");
  CHECK_THROWS_WITH(io::truncate_jsonl(dir / "bad.jsonl", 2), Catch::Contains("bad.jsonl' line 2 is not a JSON row"));
  io::append_jsonl(dir / "m.jsonl", nlohmann::json{{"step", 2}});
  CHECK(steps_of(dir / "m.jsonl") == std::vector<std::uint64_t>{0, 1, 2});
  CHECK_THROWS_WITH(io::append_jsonl("/dev/full", nlohmann::json{{"step", 2}}),
                    Catch::Contains("'/dev/full'") && Catch::Contains(std::strerror(ENOSPC)));
}

TEST_CASE("a killed run resumed through its folder equals the uninterrupted one, with logs free of duplicates",
          "[run]") {
  const Options o{.learning_rate = 1e-5, .max_steps = 100, .seed = 9};
  Model full, part;
  ZOSGD(o).minimize([&] { return full.loss(); }, full.store);

  const auto dir = fresh("e2e");
  auto evaluate = [](RunFolder& rf, std::uint64_t step) {
    io::append_jsonl(rf.file("eval.jsonl"), nlohmann::json{{"step", step}});
  };
  {  // checkpoint every 20 steps, evaluations every 20 too; killed after step 70 (logs run ahead of the checkpoint)
    auto rf = RunFolder::create(dir, settings());
    evaluate(rf, 0);
    struct Eval {
      RunFolder& rf;
      std::function<void(RunFolder&, std::uint64_t)> f;
      void on_step(const StepInfo& s) {
        if ((s.step + 1) % 20 == 0) f(rf, s.step + 1);
      }
    };
    ZOSGD first(o);
    first.minimize([&] { return part.loss(); }, part.store, JsonlLogger(rf.file("metrics.jsonl")), rf.checkpointer(20),
                   Eval{rf, evaluate}, StepLimit(70));
  }
  {  // and a kill between the checkpoint at 60 and its evaluation: the row for step 60 is lost
    const auto text = slurp(dir / "eval.jsonl");
    put(dir / "eval.jsonl", text.substr(0, text.find("{\"step\":60}")));
  }
  auto rf = RunFolder::resume(dir, settings());
  REQUIRE(rf.checkpoint_step() == 60);
  // Both logs number rows by steps done: metrics.jsonl keeps the rows of steps 1..60, the checkpoint's step last.
  CHECK(steps_of(dir / "metrics.jsonl") == [] {
    std::vector<std::uint64_t> v(60);
    for (std::uint64_t i = 0; i < 60; ++i) v[i] = i + 1;
    return v;
  }());
  CHECK_FALSE(rf.has_evaluation(60));
  CHECK(rf.has_evaluation(40));
  if (!rf.has_evaluation(rf.checkpoint_step())) evaluate(rf, rf.checkpoint_step());
  Model resumed;
  ZOSGD second(o);
  second.state() = rf.load_checkpoint(resumed.store, second.preconditioner());
  second.minimize([&] { return resumed.loss(); }, resumed.store, JsonlLogger(rf.file("metrics.jsonl"), true),
                  rf.checkpointer(20));
  CHECK(resumed.w == full.w);
  std::vector<std::uint64_t> expect(100);
  for (std::uint64_t i = 0; i < 100; ++i) expect[i] = i + 1;
  CHECK(steps_of(dir / "metrics.jsonl") == expect);
  CHECK(steps_of(dir / "eval.jsonl") == std::vector<std::uint64_t>{0, 20, 40, 60});
  CHECK(rf.checkpoint_step() == 100);
}
