// Terminal display width of UTF-8 text, for aligning custopsctl's tables
// (docs/custopsctl.md "Tables"). A CJK character such as the 华 of 华东 takes
// two terminal cells, a combining accent none:
//
//   DisplayWidth("华东");      // 4
//   DisplayWidth("e\u0301");   // 1 (e + combining acute)
//   PadRight("华东", 6);       // "华东  "
//
// Widths follow Unicode's East Asian Width property (W and F = 2 cells),
// as terminals do; ambiguous-width characters (A: "—", "↑", "→", Greek and
// Cyrillic letters) count as one cell, which is what terminals show outside
// CJK legacy locales. Pure functions, thread-safe.
#ifndef CUSTOPS_CTL_WIDTH_H_
#define CUSTOPS_CTL_WIDTH_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace custops::ctl {

// Cells taken by one code point: 2 for East Asian Wide (W) and Fullwidth
// (F) characters (CJK ideographs, kana, Hangul syllables, full-width forms
// such as "（" and "，", most emoji); 0 for combining marks (Mn, Me), format
// characters (Cf: zero-width joiner, BOM, ...; not the soft hyphen), Hangul
// medial and final jamo, and control characters; 1 for everything else.
int CodepointWidth(char32_t c);

// Cells taken by UTF-8 `text`: the sum of CodepointWidth, except that a code
// point joined to the previous one by U+200D (ZWJ emoji sequences such as
// 👨‍👩‍👧) and an emoji skin-tone modifier (U+1F3FB..U+1F3FF) after a wide
// character add nothing. Invalid UTF-8 bytes count one cell each.
size_t DisplayWidth(std::string_view text);

// `text` followed (PadRight) or preceded (PadLeft) by spaces up to `width`
// cells; unchanged when already that wide or wider.
std::string PadRight(std::string_view text, size_t width);
std::string PadLeft(std::string_view text, size_t width);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_WIDTH_H_
