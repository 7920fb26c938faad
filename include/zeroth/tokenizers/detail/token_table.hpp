#pragma once
// Internal: a read-only string -> id table for vocabularies, open addressing over one flat array (a lookup touches
// the slot array and the key bytes, where std::unordered_map walks three separately allocated places).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace zeroth::tokenizers::detail {

class TokenTable {
 public:
  TokenTable() = default;

  /// The table of `tokens`, tokens[i] having id i; for a token listed twice, `duplicate` is set to the later id and
  /// the earlier is kept.
  explicit TokenTable(const std::vector<std::string>& tokens, std::size_t* duplicate = nullptr) {
    std::size_t capacity = 16;
    while (capacity < 2 * tokens.size()) capacity *= 2;  // load factor <= 1/2
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    offsets_.reserve(tokens.size() + 1);
    offsets_.push_back(0);
    for (const auto& t : tokens) {
      pool_ += t;
      offsets_.push_back(static_cast<std::uint32_t>(pool_.size()));
    }
    for (std::size_t id = 0; id < tokens.size(); ++id) {
      const std::uint64_t h = hash(tokens[id]);
      std::size_t i = h & mask_;
      bool repeated = false;
      while (slots_[i] != 0) {
        if (matches(slots_[i], h, tokens[id])) {
          repeated = true;
          break;
        }
        i = (i + 1) & mask_;
      }
      if (repeated) {
        if (duplicate && *duplicate == 0) *duplicate = id;
        continue;
      }
      slots_[i] = (h & ~std::uint64_t{0xFFFFFFFF}) | (id + 1);
    }
  }

  /// The id of `key`, or -1.
  int find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t s = slots_[i];
      if (s == 0) return -1;
      if (matches(s, h, key)) return static_cast<int>((s & 0xFFFFFFFF) - 1);
    }
  }

 private:
  // FNV-1a, then a multiply-xorshift so that the high bits (kept in the slot) and the low bits (the index) both mix.
  static std::uint64_t hash(std::string_view s) {
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
  }

  bool matches(std::uint64_t slot, std::uint64_t h, std::string_view key) const {
    if ((slot ^ h) >> 32) return false;
    const std::size_t id = (slot & 0xFFFFFFFF) - 1;
    const std::size_t begin = offsets_[id], size = offsets_[id + 1] - begin;
    return size == key.size() && (size == 0 || std::memcmp(pool_.data() + begin, key.data(), size) == 0);
  }

  std::vector<std::uint64_t> slots_;  // 0 empty, else the hash's high 32 bits | (id + 1)
  std::size_t mask_ = 0;
  std::string pool_;                    // all tokens, back to back
  std::vector<std::uint32_t> offsets_;  // token id's bytes are pool_[offsets_[id], offsets_[id + 1])
};

}  // namespace zeroth::tokenizers::detail
