// The demo's randomness (docs/demo-data.md, "Guarantees"): a seeded
// std::mt19937_64 whose raw output alone is used, so the same seed gives the
// same draws on every platform. Internal to the demo library.
#ifndef CUSTOPS_DEMO_SRC_RNG_H_
#define CUSTOPS_DEMO_SRC_RNG_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>

namespace custops::demo::internal {

// Only the engine's raw output is used: std::mt19937_64 is specified
// exactly by the standard, the std distributions are not.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n); n > 0.
  int64_t Below(int64_t n) {
    const unsigned __int128 wide =
        static_cast<unsigned __int128>(engine_()) * static_cast<uint64_t>(n);
    return static_cast<int64_t>(wide >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) { return lo + Below(hi - lo + 1); }
  bool Chance(int percent) { return Below(100) < percent; }

  // An index drawn with the given weights.
  size_t Weighted(std::initializer_list<int> weights) {
    int64_t total = 0;
    for (int w : weights) total += w;
    int64_t x = Below(total);
    size_t i = 0;
    for (int w : weights) {
      if (x < w) return i;
      x -= w;
      ++i;
    }
    return weights.size() - 1;
  }

  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

  // For tables whose entries carry a `weight`.
  template <typename T, size_t N>
  size_t PickWeightedIndex(const T (&items)[N]) {
    int64_t total = 0;
    for (const T& item : items) total += item.weight;
    int64_t x = Below(total);
    for (size_t i = 0; i < N; ++i) {
      if (x < items[i].weight) return i;
      x -= items[i].weight;
    }
    return N - 1;
  }

 private:
  std::mt19937_64 engine_;
};

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace custops::demo::internal

#endif  // CUSTOPS_DEMO_SRC_RNG_H_
