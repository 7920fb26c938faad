#pragma once
// A BERT encoder written in torch::nn, its modules named as Hugging Face's BertModel ("encoder.layer.0.attention.
// self.query.weight", ...), its weights read by zeroth's safetensors loader: the same model as the Eigen backend
// (zeroth/backends/bert), on which every first-order method can back-propagate.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "zeroth/backends/bert/config.hpp"
#include "zeroth/backends/bert/model.hpp"
#include "zeroth/backends/bert/model_folder.hpp"
#include "zeroth/backends/bert/weights.hpp"

namespace zeroth::libtorch {

namespace detail {
/// Linear + residual + LayerNorm: BertSelfOutput and BertOutput.
struct DenseNormImpl : torch::nn::Module {
  DenseNormImpl(int in, int out, double eps)
      : dense(register_module("dense", torch::nn::Linear(in, out))),
        norm(register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out}).eps(eps)))) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual) { return norm(dense(x) + residual); }
  torch::nn::Linear dense;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(DenseNorm);

struct SelfAttentionImpl : torch::nn::Module {
  explicit SelfAttentionImpl(int H)
      : query(register_module("query", torch::nn::Linear(H, H))),
        key(register_module("key", torch::nn::Linear(H, H))),
        value(register_module("value", torch::nn::Linear(H, H))) {}
  torch::nn::Linear query, key, value;
};
TORCH_MODULE(SelfAttention);

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int H, double eps)
      : self(register_module("self", SelfAttention(H))), output(register_module("output", DenseNorm(H, H, eps))) {}
  SelfAttention self;
  DenseNorm output;
};
TORCH_MODULE(Attention);

struct IntermediateImpl : torch::nn::Module {
  IntermediateImpl(int H, int I) : dense(register_module("dense", torch::nn::Linear(H, I))) {}
  torch::nn::Linear dense;
};
TORCH_MODULE(Intermediate);

struct LayerImpl : torch::nn::Module {
  LayerImpl(const bert::Config& c)
      : attention(register_module("attention", Attention(c.hidden_size, c.layer_norm_eps))),
        intermediate(register_module("intermediate", Intermediate(c.hidden_size, c.intermediate_size))),
        output(register_module("output", DenseNorm(c.intermediate_size, c.hidden_size, c.layer_norm_eps))),
        heads(c.num_attention_heads) {}
  // x [B, T, H]; mask [B, 1, 1, T], true at padding.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pad) {
    const auto B = x.size(0), T = x.size(1), H = x.size(2), hs = H / heads;
    auto split = [&](const torch::Tensor& t) { return t.view({B, T, heads, hs}).transpose(1, 2); };
    auto& s = attention->self;
    const torch::Tensor q = split(s->query(x)), k = split(s->key(x)), v = split(s->value(x));
    torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(hs));
    scores = scores.masked_fill(pad, -std::numeric_limits<float>::infinity());
    const torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({B, T, H});
    const torch::Tensor a = attention->output(context, x);
    return output(torch::gelu(intermediate->dense(a)), a);
  }
  Attention attention;
  Intermediate intermediate;
  DenseNorm output;
  int heads;
};
TORCH_MODULE(Layer);

struct EmbeddingsImpl : torch::nn::Module {
  explicit EmbeddingsImpl(const bert::Config& c)
      : word_embeddings(register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size))),
        position_embeddings(
            register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size))),
        token_type_embeddings(
            register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size))),
        norm(register_module("LayerNorm",
                             torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))) {}
  torch::nn::Embedding word_embeddings, position_embeddings, token_type_embeddings;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(Embeddings);

struct EncoderStackImpl : torch::nn::Module {
  explicit EncoderStackImpl(const bert::Config& c) : layer(register_module("layer", torch::nn::ModuleList())) {
    for (int l = 0; l < c.num_hidden_layers; ++l) layer->push_back(Layer(c));
  }
  torch::nn::ModuleList layer;
};
TORCH_MODULE(EncoderStack);
}  // namespace detail

/// A padded batch of sequences: ids and token types [B, T] (int64, padded with pad_token_id and 0), and `pad`
/// [B, T], true at padding.
struct PaddedBatch {
  torch::Tensor ids, token_types, pad;
};

/// The encoder (BertModel without its pooler). forward() gives the last layer's states [B, T, H]; embed() the
/// sentence embeddings as the model folder's pooling says. Parameters by Hugging Face name.
///   auto enc = zeroth::libtorch::load_bert("../shared/models/all-MiniLM-L6-v2");
///   torch::Tensor e = enc->embed(sequences);  // [B, 384]
struct BertEncoderImpl : torch::nn::Module {
  /// With `pooler`, BertModel's pooler too (kept so that the parameters are the model file's; unused by the
  /// sentence embeddings, frozen by the classifier).
  BertEncoderImpl(const bert::Config& c, bert::PoolingConfig pooling, bool pooler = false)
      : config(c),
        pooling(pooling),
        embeddings(register_module("embeddings", detail::Embeddings(c))),
        encoder(register_module("encoder", detail::EncoderStack(c))) {
    if (pooler) {
      auto p = register_module("pooler", std::make_shared<torch::nn::Module>());
      p->register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
    }
  }

  /// Pads `seqs`, first checked against the model as the Eigen encoder checks them (bert::validate_sequences).
  PaddedBatch pad(std::span<const bert::Sequence> seqs) const {
    bert::validate_sequences(config, seqs);
    std::size_t T = 0;
    for (const auto& s : seqs) T = std::max(T, s.ids.size());
    const auto B = static_cast<std::int64_t>(seqs.size());
    torch::Tensor ids = torch::full({B, static_cast<std::int64_t>(T)}, config.pad_token_id, torch::kLong);
    torch::Tensor types = torch::zeros({B, static_cast<std::int64_t>(T)}, torch::kLong);
    torch::Tensor pad = torch::ones({B, static_cast<std::int64_t>(T)}, torch::kBool);
    auto I = ids.accessor<std::int64_t, 2>(), Y = types.accessor<std::int64_t, 2>();
    auto P = pad.accessor<bool, 2>();
    for (std::int64_t b = 0; b < B; ++b) {
      const auto& s = seqs[static_cast<std::size_t>(b)];
      for (std::size_t t = 0; t < s.ids.size(); ++t) {
        I[b][static_cast<std::int64_t>(t)] = s.ids[t];
        Y[b][static_cast<std::int64_t>(t)] = s.token_types[t];
        P[b][static_cast<std::int64_t>(t)] = false;
      }
    }
    return {ids, types, pad};
  }

  /// The last layer's states [B, T, H] (rows at padding are not meaningful).
  torch::Tensor forward(const PaddedBatch& in) {
    const auto T = in.ids.size(1);
    torch::Tensor x = embeddings->word_embeddings(in.ids) +
                      embeddings->position_embeddings(torch::arange(T, torch::kLong)).unsqueeze(0) +
                      embeddings->token_type_embeddings(in.token_types);
    x = embeddings->norm(x);
    const torch::Tensor pad = in.pad.unsqueeze(1).unsqueeze(1);  // [B, 1, 1, T]
    for (const auto& l : *encoder->layer) x = l->as<detail::Layer>()->forward(x, pad);
    return x;
  }

  /// Sentence embeddings [B, H]: mean over the tokens (or the first), then L2-normalised when pooling.normalize.
  torch::Tensor embed(std::span<const bert::Sequence> seqs) {
    const PaddedBatch in = pad(seqs);
    const torch::Tensor h = forward(in);
    torch::Tensor e;
    if (pooling.mode == bert::Pooling::cls) {
      e = h.select(1, 0);
    } else {
      const torch::Tensor keep = in.pad.logical_not().unsqueeze(-1).to(h.scalar_type());
      e = (h * keep).sum(1) / keep.sum(1);
    }
    if (pooling.normalize) e = torch::nn::functional::normalize(e, torch::nn::functional::NormalizeFuncOptions().eps(1e-12));
    return e;
  }

  /// Copies `w`'s tensors into the parameters of the same names; throws std::invalid_argument naming a tensor that
  /// is missing or of another shape.
  void load(const bert::Weights& w) {
    torch::NoGradGuard no_grad;
    auto params = named_parameters(/*recurse=*/true);
    for (const auto& t : w.tensors) {
      torch::Tensor* p = params.find(t.name);
      if (!p) throw std::invalid_argument("zeroth: the torch BERT encoder has no parameter '" + t.name + "'");
      std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
      if (p->sizes() != c10::IntArrayRef(shape))
        throw std::invalid_argument("zeroth: tensor '" + t.name + "' does not fit the torch BERT encoder's shape");
      const std::vector<float> f = t.float32();
      p->copy_(torch::from_blob(const_cast<float*>(f.data()), shape, torch::kFloat).to(p->scalar_type()));
    }
  }

  bert::Config config;
  bert::PoolingConfig pooling;
  detail::Embeddings embeddings;
  detail::EncoderStack encoder;
};
TORCH_MODULE(BertEncoder);

/// The encoder of a Hugging Face model folder (as bert::load_encoder reads it), every parameter in `dtype`.
inline BertEncoder load_bert(const std::filesystem::path& folder, torch::ScalarType dtype = torch::kFloat) {
  bert::Encoder eigen = bert::load_encoder(folder);
  BertEncoder enc(eigen.config(), eigen.pooling(), eigen.weights().has_pooler);
  enc->load(eigen.weights());
  if (dtype != torch::kFloat) enc->to(dtype);
  return enc;
}

/// The encoder's tensors as bert::Weights (float32 copies, under the same names), e.g. to save as a model folder.
inline bert::Weights to_weights(BertEncoder& encoder) {
  bool pooler = false;
  for (const auto& p : encoder->named_parameters(true)) pooler = pooler || p.key().rfind("pooler.", 0) == 0;
  bert::Weights w = bert::Weights::zeros(encoder->config, pooler);
  auto params = encoder->named_parameters(true);
  torch::NoGradGuard no_grad;
  for (auto& t : w.tensors) {
    const torch::Tensor* p = params.find(t.name);
    if (!p) throw std::invalid_argument("zeroth: the torch BERT encoder has no parameter '" + t.name + "'");
    const torch::Tensor f = p->to(torch::kFloat).contiguous();
    std::copy(f.data_ptr<float>(), f.data_ptr<float>() + f.numel(), t.f32.begin());
  }
  return w;
}

/// Writes `encoder` (float32) to `out` as a Hugging Face model folder beside `source`'s other files, atomically
/// (bert::save_model_folder).
inline void save_model_folder(BertEncoder& encoder, const std::filesystem::path& source,
                              const std::filesystem::path& out) {
  bert::save_model_folder(bert::Encoder(to_weights(encoder), encoder->pooling), source, out);
}

}  // namespace zeroth::libtorch
