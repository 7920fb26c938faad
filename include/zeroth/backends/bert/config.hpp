#pragma once
// A BERT-family encoder's shape and options, read from a Hugging Face config.json; how sentence embeddings are
// pooled, from a sentence-transformers folder's 1_Pooling/config.json and modules.json.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace zeroth::bert {

/// The fields of config.json the encoder uses (Hugging Face names).
struct Config {
  int vocab_size = 0, hidden_size = 0, num_hidden_layers = 0, num_attention_heads = 0, intermediate_size = 0;
  int max_position_embeddings = 0, type_vocab_size = 0, pad_token_id = 0;
  float layer_norm_eps = 1e-12f;

  int head_size() const { return hidden_size / num_attention_heads; }
  friend bool operator==(const Config&, const Config&) = default;
};

/// How token states become one sentence embedding.
enum class Pooling { mean, cls };

/// Pooling, then optional L2 normalisation (sentence-transformers' Normalize module).
struct PoolingConfig {
  Pooling mode = Pooling::mean;
  bool normalize = false;
};

namespace detail {

[[noreturn]] inline void config_error(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("zeroth: '" + path.string() + "': " + problem);
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) config_error(path, "no such file (or not a regular file)");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  try {
    nlohmann::json j = nlohmann::json::parse(text.str());
    if (!j.is_object()) config_error(path, "is not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    config_error(path, std::string("is not valid JSON: ") + e.what());
  }
}

}  // namespace detail

/// Parses config.json; throws std::runtime_error naming the file and the field for an unsupported model_type,
/// activation or option, or a missing or out-of-range field.
///   auto c = zeroth::bert::read_config("../shared/models/all-MiniLM-L6-v2/config.json");  // hidden_size 384
inline Config read_config(const std::filesystem::path& path) {
  const nlohmann::json j = detail::read_json(path);
  auto string_field = [&](const char* name, const char* fallback) -> std::string {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) detail::config_error(path, std::string("field '") + name + "' must be a string");
    return it->get<std::string>();
  };
  auto int_field = [&](const char* name, int min, int fallback = -1) -> int {
    auto it = j.find(name);
    if (it == j.end()) {
      if (fallback >= 0) return fallback;
      detail::config_error(path, std::string("missing field '") + name + "'");
    }
    if (!it->is_number_integer() || it->get<long long>() < min || it->get<long long>() > (1 << 24))
      detail::config_error(path, std::string("field '") + name + "' must be an integer in [" + std::to_string(min) +
                                     ", 16777216], got " + it->dump());
    return it->get<int>();
  };
  const std::string type = string_field("model_type", "");
  if (type != "bert")
    detail::config_error(path, "model_type '" + type + "' is not supported (supported: bert)");
  const std::string act = string_field("hidden_act", "gelu");
  if (act != "gelu")
    detail::config_error(path, "hidden_act '" + act + "' is not supported (supported: gelu, the erf form)");
  const std::string pos = string_field("position_embedding_type", "absolute");
  if (pos != "absolute")
    detail::config_error(path, "position_embedding_type '" + pos + "' is not supported (supported: absolute)");
  for (const char* flag : {"is_decoder", "add_cross_attention"})
    if (auto it = j.find(flag); it != j.end() && it->is_boolean() && it->get<bool>())
      detail::config_error(path, std::string("'") + flag + "' is true: only encoders are supported");
  Config c;
  c.vocab_size = int_field("vocab_size", 1);
  c.hidden_size = int_field("hidden_size", 1);
  c.num_hidden_layers = int_field("num_hidden_layers", 1);
  c.num_attention_heads = int_field("num_attention_heads", 1);
  c.intermediate_size = int_field("intermediate_size", 1);
  c.max_position_embeddings = int_field("max_position_embeddings", 1);
  c.type_vocab_size = int_field("type_vocab_size", 1, 2);
  c.pad_token_id = int_field("pad_token_id", 0, 0);
  if (auto it = j.find("layer_norm_eps"); it != j.end()) {
    if (!it->is_number() || !(it->get<double>() > 0) || it->get<double>() > 1)
      detail::config_error(path, "field 'layer_norm_eps' must be a number in (0, 1], got " + it->dump());
    c.layer_norm_eps = it->get<float>();
  }
  if (c.hidden_size % c.num_attention_heads != 0)
    detail::config_error(path, "hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of " +
                                   "num_attention_heads " + std::to_string(c.num_attention_heads));
  return c;
}

/// The pooling of a sentence-transformers folder: 1_Pooling/config.json (mean or CLS; other modes are an error
/// naming them) and whether modules.json ends in a Normalize module. A folder without them pools by mean, without
/// normalisation (a plain Hugging Face BertModel folder).
inline PoolingConfig read_pooling(const std::filesystem::path& folder) {
  PoolingConfig p;
  const auto pooling = folder / "1_Pooling" / "config.json";
  if (std::filesystem::exists(pooling)) {
    const nlohmann::json j = detail::read_json(pooling);
    auto on = [&](const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); };
    for (const char* unsupported : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                    "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
      if (on(unsupported))
        detail::config_error(pooling, std::string("'") + unsupported +
                                          "' is not supported (supported: pooling_mode_mean_tokens, "
                                          "pooling_mode_cls_token)");
    const bool mean = on("pooling_mode_mean_tokens"), cls = on("pooling_mode_cls_token");
    if (mean == cls)
      detail::config_error(pooling, "exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token must be true");
    p.mode = cls ? Pooling::cls : Pooling::mean;
  }
  const auto modules = folder / "modules.json";
  if (std::filesystem::exists(modules)) {
    std::ifstream in(modules);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
      detail::config_error(modules, std::string("is not valid JSON: ") + e.what());
    }
    if (!j.is_array()) detail::config_error(modules, "is not a JSON array of modules");
    for (std::size_t i = 0; i < j.size(); ++i) {
      const auto& m = j[i];
      const auto type = m.is_object() ? m.find("type") : m.end();
      if (type == m.end()) continue;
      if (!type->is_string())
        detail::config_error(modules, "'type' of module " + std::to_string(i) + " is not a string");
      if (type->get<std::string>() == "sentence_transformers.models.Normalize") p.normalize = true;
    }
  }
  return p;
}

}  // namespace zeroth::bert
