// Directly maximizes the accuracy (a non-differentiable metric) of a bag-of-words linear classifier on SST-2 with
// ZO-SGD, and reports accuracy on the held-out dev and test splits before and after.
//   sst2_accuracy [data_dir=../shared/data/sst2] [steps=20000] [seed=0]
#include <zeroth/data/load.hpp>
#include <zeroth/zeroth.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Features {  // sparse rows: word ids, each weighted 1/sqrt(#words)
  std::vector<std::vector<int>> words;
  std::vector<int> labels;
};

std::vector<std::string> tokens(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

Features featurize(const std::vector<zeroth::data::Example>& rows, std::unordered_map<std::string, int>& vocab,
                   bool grow) {
  Features f;
  for (const auto& r : rows) {
    std::vector<int> ids;
    for (const auto& w : tokens(r.text)) {
      auto it = vocab.find(w);
      if (it != vocab.end()) {
        ids.push_back(it->second);
      } else if (grow) {
        const int id = static_cast<int>(vocab.size());
        vocab.emplace(w, id);
        ids.push_back(id);
      }
    }
    f.words.push_back(std::move(ids));
    f.labels.push_back(r.label);
  }
  return f;
}

// Accuracy of sign(w . x + b): piecewise constant in the weights, so it has no useful gradient.
double accuracy(const Eigen::VectorXf& w, const Features& f) {
  const auto bias = static_cast<Eigen::Index>(w.size() - 1);
  int correct = 0;
  for (std::size_t i = 0; i < f.words.size(); ++i) {
    float s = 0;
    for (int id : f.words[i]) s += w[id];
    if (!f.words[i].empty()) s /= std::sqrt(static_cast<float>(f.words[i].size()));
    correct += ((s + w[bias]) > 0) == (f.labels[i] == 1);
  }
  return static_cast<double>(correct) / static_cast<double>(f.words.size());
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string dir = argc > 1 ? argv[1] : "../shared/data/sst2";
  const std::uint64_t steps = argc > 2 ? std::stoull(argv[2]) : 20000;
  const std::uint64_t seed = argc > 3 ? std::stoull(argv[3]) : 0;
  using zeroth::data::Task;
  std::unordered_map<std::string, int> vocab;
  const Features train = featurize(zeroth::data::load_task(Task::sst2, dir + "/train.tsv"), vocab, true);
  const Features dev = featurize(zeroth::data::load_task(Task::sst2, dir + "/dev.tsv"), vocab, false);
  const Features test = featurize(zeroth::data::load_task(Task::sst2, dir + "/test.tsv"), vocab, false);
  Eigen::VectorXf w = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(vocab.size()) + 1);
  std::printf("SST-2: %zu train, %zu dev, %zu test sentences; %zu parameters\n", train.words.size(),
              dev.words.size(), test.words.size(), static_cast<std::size_t>(w.size()));
  std::printf("before: train %.1f%%  dev %.1f%%  test %.1f%%\n", 100 * accuracy(w, train), 100 * accuracy(w, dev),
              100 * accuracy(w, test));

  // The objective is 1 - accuracy on a minibatch of 512 training sentences: a step function of w. A perturbation
  // scale large enough to flip predictions turns the two-sided difference into a smoothed-accuracy gradient.
  zeroth::Minibatch objective(
      [&](const Eigen::VectorXf& x, std::span<const std::size_t> batch) {
        const auto bias = static_cast<Eigen::Index>(x.size() - 1);
        int correct = 0;
        for (std::size_t i : batch) {
          float s = 0;
          for (int id : train.words[i]) s += x[id];
          if (!train.words[i].empty()) s /= std::sqrt(static_cast<float>(train.words[i].size()));
          correct += ((s + x[bias]) > 0) == (train.labels[i] == 1);
        }
        return 1.0 - static_cast<double>(correct) / static_cast<double>(batch.size());
      },
      train.words.size(), 512, seed);
  zeroth::Optimizer<zeroth::RGE, zeroth::Identity> opt(
      {.learning_rate = 0.5, .epsilon = 0.5, .max_steps = steps, .seed = seed, .evaluate_final = false},
      zeroth::RGE({.directions = 8}));
  zeroth::Result r = opt.minimize(objective, w, zeroth::ProgressBar());
  std::printf("after:  train %.1f%%  dev %.1f%%  test %.1f%%  (%llu evaluations, %.1f s)\n", 100 * accuracy(w, train),
              100 * accuracy(w, dev), 100 * accuracy(w, test), static_cast<unsigned long long>(r.evaluations),
              r.seconds);
  return r.ok() ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "sst2_accuracy: %s\n", e.what());
  return 2;
}
