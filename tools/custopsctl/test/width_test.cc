#include "custops/ctl/width.h"

#include <string>

#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

TEST(CodepointWidthTest, Classes) {
  EXPECT_EQ(CodepointWidth(U'a'), 1);
  EXPECT_EQ(CodepointWidth(U'\t'), 0);      // control
  EXPECT_EQ(CodepointWidth(U'\u00e9'), 1);  // é precomposed
  EXPECT_EQ(CodepointWidth(U'\u0301'), 0);  // combining acute
  EXPECT_EQ(CodepointWidth(U'\u200d'), 0);  // zero-width joiner (Cf)
  EXPECT_EQ(CodepointWidth(U'\u00ad'), 1);  // soft hyphen is the exception
  EXPECT_EQ(CodepointWidth(U'\u1160'), 0);  // Hangul medial jamo
  EXPECT_EQ(CodepointWidth(U'华'), 2);
  EXPECT_EQ(CodepointWidth(U'\u3000'), 2);      // ideographic space (F)
  EXPECT_EQ(CodepointWidth(U'\uff08'), 2);      // （ full-width parenthesis
  EXPECT_EQ(CodepointWidth(U'\uff21'), 2);      // Ａ full-width letter
  EXPECT_EQ(CodepointWidth(U'\uff71'), 1);      // ｱ half-width katakana
  EXPECT_EQ(CodepointWidth(U'\U0001F600'), 2);  // 😀
  EXPECT_EQ(CodepointWidth(U'\U00020000'), 2);  // CJK extension B
  EXPECT_EQ(CodepointWidth(U'\u2014'), 1);      // — ambiguous: one cell
  EXPECT_EQ(CodepointWidth(U'\u2191'), 1);      // ↑ ambiguous: one cell
  EXPECT_EQ(CodepointWidth(U'\u00a5'), 1);      // ¥
}

TEST(DisplayWidthTest, Ascii) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("rep-01"), 6u);
  EXPECT_EQ(DisplayWidth("¥1,234.50"), 9u);
}

TEST(DisplayWidthTest, Cjk) {
  EXPECT_EQ(DisplayWidth("华东"), 4u);
  EXPECT_EQ(DisplayWidth("CRM专业版"), 9u);
  EXPECT_EQ(DisplayWidth("解决时长中位数"), 14u);
  EXPECT_EQ(DisplayWidth("前20%营收占比"), 13u);
  EXPECT_EQ(DisplayWidth("90.5 天"), 7u);
  EXPECT_EQ(DisplayWidth("한국어"), 6u);
  EXPECT_EQ(DisplayWidth("カタカナ"), 8u);
}

TEST(DisplayWidthTest, FullwidthPunctuation) {
  EXPECT_EQ(DisplayWidth("（北京）"), 8u);
  EXPECT_EQ(DisplayWidth("你好，世界。"), 12u);
  EXPECT_EQ(DisplayWidth("！？：；"), 8u);
  EXPECT_EQ(DisplayWidth("「引号」"), 8u);
}

TEST(DisplayWidthTest, Emoji) {
  EXPECT_EQ(DisplayWidth("😀"), 2u);
  EXPECT_EQ(DisplayWidth("ok👍"), 4u);
  // A skin-tone modifier colours the emoji before it.
  EXPECT_EQ(DisplayWidth("👍🏽"), 2u);
  // A ZWJ sequence is one picture: 👨‍👩‍👧.
  EXPECT_EQ(DisplayWidth("\U0001F468\u200D\U0001F469\u200D\U0001F467"), 2u);
}

TEST(DisplayWidthTest, CombiningMarks) {
  EXPECT_EQ(DisplayWidth("e\u0301"), 1u);              // e + combining acute
  EXPECT_EQ(DisplayWidth("Cafe\u0301 au lait"), 12u);  // as wide as "Café au lait"
  EXPECT_EQ(DisplayWidth("a\u0308\u0304"), 1u);        // two marks on one letter
  EXPECT_EQ(DisplayWidth("\u1100\u1161"), 2u);         // 가 as conjoining jamo
}

TEST(DisplayWidthTest, InvalidBytesTakeOneCellEach) {
  EXPECT_EQ(DisplayWidth("\xff\xfe"), 2u);
  EXPECT_EQ(DisplayWidth("\xe5\x8d"), 2u);      // truncated 华
  EXPECT_EQ(DisplayWidth("\xc0\xaf"), 2u);      // overlong '/'
  EXPECT_EQ(DisplayWidth("\xed\xa0\x80"), 3u);  // a UTF-16 surrogate
  EXPECT_EQ(DisplayWidth("a\xe5\x8d"
                         "b"),
            4u);
}

TEST(PadTest, PadsByDisplayWidth) {
  EXPECT_EQ(PadRight("华东", 6), "华东  ");
  EXPECT_EQ(PadLeft("华东", 6), "  华东");
  EXPECT_EQ(PadRight("e\u0301", 3), "e\u0301  ");
  EXPECT_EQ(PadLeft("toolong", 3), "toolong");
}

}  // namespace
}  // namespace custops::ctl
