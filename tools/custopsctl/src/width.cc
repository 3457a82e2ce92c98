#include "custops/ctl/width.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

namespace custops::ctl {
namespace {

struct CodepointRange {
  char32_t first;
  char32_t last;
};

#include "width_tables.inc"

template <size_t N>
bool InRanges(const CodepointRange (&ranges)[N], char32_t c) {
  const CodepointRange* end = ranges + N;
  const CodepointRange* it = std::upper_bound(
      ranges, end, c, [](char32_t value, const CodepointRange& r) { return value < r.first; });
  return it != ranges && c <= std::prev(it)->last;
}

constexpr char32_t kZeroWidthJoiner = 0x200D;

bool IsSkinToneModifier(char32_t c) { return c >= 0x1F3FB && c <= 0x1F3FF; }

// Decodes the code point at text[i]; `len` gets its length in bytes. An
// invalid or truncated sequence is one byte, returned as kInvalid.
constexpr char32_t kInvalid = 0xFFFFFFFF;

char32_t Decode(std::string_view text, size_t i, size_t& len) {
  const unsigned char b = static_cast<unsigned char>(text[i]);
  len = 1;
  if (b < 0x80) return b;
  char32_t c = 0;
  char32_t min = 0;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
    c = b & 0x1F;
    min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    c = b & 0x0F;
    min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    c = b & 0x07;
    min = 0x10000;
  } else {
    return kInvalid;
  }
  if (i + len > text.size()) {
    len = 1;
    return kInvalid;
  }
  for (size_t k = 1; k < len; ++k) {
    const unsigned char cont = static_cast<unsigned char>(text[i + k]);
    if ((cont & 0xC0) != 0x80) {
      len = 1;
      return kInvalid;
    }
    c = (c << 6) | (cont & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    len = 1;
    return kInvalid;
  }
  return c;
}

}  // namespace

int CodepointWidth(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c < 0xA0)) return 0;  // C0 and C1 controls, DEL
  if (c < 0x300) return 1;
  if (InRanges(kZeroWidthRanges, c)) return 0;
  if (c >= 0x1100 && InRanges(kWideRanges, c)) return 2;
  return 1;
}

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  char32_t previous = 0;
  int previous_width = 0;  // CodepointWidth of `previous`
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const char32_t c = Decode(text, i, len);
    i += len;
    if (c == kInvalid) {
      width += 1;
      previous = 0;
      previous_width = 1;
      continue;
    }
    const int own = CodepointWidth(c);
    int w = own;
    if (previous == kZeroWidthJoiner) {
      w = 0;  // joined into the emoji before it
    } else if (IsSkinToneModifier(c) && previous_width == 2) {
      w = 0;  // colours the emoji before it
    }
    width += static_cast<size_t>(w);
    previous = c;
    previous_width = own;
  }
  return width;
}

std::string PadRight(std::string_view text, size_t width) {
  const size_t w = DisplayWidth(text);
  std::string out(text);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string PadLeft(std::string_view text, size_t width) {
  const size_t w = DisplayWidth(text);
  std::string out;
  if (w < width) out.append(width - w, ' ');
  out.append(text);
  return out;
}

}  // namespace custops::ctl
