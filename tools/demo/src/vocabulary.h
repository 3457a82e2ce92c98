// The business's vocabulary for the demo population (docs/demo-data.md):
// regions and their cities, industries, company-name parts, competitors,
// acquisition channels, company sizes, products, people's names, and the
// notes and reasons reps write. Internal to the demo library.
#ifndef CUSTOPS_DEMO_SRC_VOCABULARY_H_
#define CUSTOPS_DEMO_SRC_VOCABULARY_H_

#include <cstdint>

namespace custops::demo::internal {

struct Region {
  const char* name;
  int weight;
  const char* cities[4];
};
inline constexpr Region kRegions[] = {
    {"华东", 30, {"上海", "杭州", "南京", "苏州"}},
    {"华南", 20, {"广州", "深圳", "厦门", "佛山"}},
    {"华北", 17, {"北京", "天津", "石家庄", "太原"}},
    {"华中", 12, {"武汉", "长沙", "郑州", "南昌"}},
    {"西南", 10, {"成都", "重庆", "昆明", "贵阳"}},
    {"西北", 6, {"西安", "兰州", "银川", "乌鲁木齐"}},
    {"东北", 5, {"沈阳", "大连", "哈尔滨", "长春"}},
};
inline constexpr int kRegionCount = sizeof(kRegions) / sizeof(kRegions[0]);

struct Industry {
  const char* name;
  int weight;
  const char* name_word;  // as it appears in a company name
};
inline constexpr Industry kIndustries[] = {
    {"制造业", 22, "机械制造"}, {"零售", 13, "商贸"},        {"互联网", 12, "网络科技"},
    {"金融", 9, "金融服务"},    {"医疗健康", 9, "医疗科技"}, {"物流", 9, "供应链"},
    {"教育", 7, "教育科技"},    {"建筑地产", 7, "建设"},     {"能源", 6, "能源"},
    {"专业服务", 6, "咨询"},
};

inline constexpr const char* kTradeNames[] = {
    "恒达", "华信", "鼎盛", "瑞丰", "远航", "嘉禾", "新源", "卓越", "天成", "宏图",
    "金桥", "博远", "安和", "明德", "汇通", "聚鑫", "凯旋", "永安", "润泽", "广和",
    "启明", "天宇", "盛世", "华瑞", "德信", "佳和", "弘毅", "同创", "致远", "万合",
};

// Fictitious competitors.
inline constexpr const char* kCompetitors[] = {"云启软件", "北辰智联", "海纳数据",
                                               "星图CRM",  "易客云",   "锐达信息"};

struct Weighted {
  const char* name;
  int weight;
};
inline constexpr Weighted kChannels[] = {
    {"官网注册", 18}, {"线上广告", 15}, {"展会", 14},  {"电话营销", 14},
    {"代理商", 12},   {"行业活动", 10}, {"转介绍", 9}, {"商务拓展", 8},
};
inline constexpr const char* kReferralChannel = "转介绍";
inline constexpr const char* kAgentChannel = "代理商";

struct Size {
  const char* name;
  int weight;
  int64_t min_budget_yuan;
  int64_t max_budget_yuan;
  int min_cadence_days;  // between service visits
  int max_cadence_days;
};
inline constexpr Size kSizes[] = {
    {"1-49", 30, 20'000, 150'000, 60, 120},
    {"50-199", 35, 60'000, 400'000, 45, 90},
    {"200-999", 25, 150'000, 1'200'000, 30, 60},
    {"1000+", 10, 500'000, 4'000'000, 20, 40},
};

inline constexpr Weighted kProducts[] = {
    {"CRM标准版", 30},    {"CRM专业版", 25},    {"营销自动化", 15},
    {"客服工单系统", 15}, {"数据分析平台", 10}, {"实施与培训服务", 5},
};

inline constexpr const char* kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄",
                                            "赵", "吴", "周", "徐", "孙", "马", "朱",
                                            "胡", "郭", "何", "林", "高", "罗"};
inline constexpr const char* kGivenNames[] = {"伟", "芳",   "娜", "敏", "静",   "磊", "洋",   "勇",
                                              "艳", "杰",   "军", "涛", "明",   "超", "秀英", "丽",
                                              "强", "志鹏", "婷", "晨", "浩然", "宇", "欣怡", "佳"};

inline constexpr const char* kNeutralNotes[] = {"例行回访，了解使用情况", "电话沟通近况",
                                                "发送产品资料与案例", "节日问候"};
inline constexpr const char* kInterestedNotes[] = {"客户对产品演示感兴趣", "约定下次详细交流",
                                                   "客户询问报价与实施周期", "客户希望试用"};
inline constexpr const char* kNeedNotes[] = {"确认需求：需要移动端与报表", "确认采购预算与时间表",
                                             "需求调研完成，客户认可方案方向", "确认需对接现有ERP"};
inline constexpr const char* kNotInterestedNotes[] = {"客户暂无需求", "客户已有系统，暂不更换",
                                                      "联系人表示今年不考虑"};
inline constexpr const char* kLossReasons[] = {"价格高于预算", "功能不满足需求", "客户选择了竞品",
                                               "项目预算取消", "决策延期，项目搁置"};
inline constexpr const char* kQuoteRejectReasons[] = {"价格高于预算", "竞品报价更低",
                                                      "付款条件不接受"};
inline constexpr const char* kChurnReasons[] = {"预算削减", "转用竞品", "公司业务调整",
                                                "对服务不满意", "公司被并购"};
inline constexpr const char* kTerminationReasons[] = {"客户提前解约", "双方协商终止",
                                                      "客户经营困难"};
inline constexpr const char* kComplaintChannels[] = {"电话", "邮件", "微信", "工单系统"};
inline constexpr const char* kComplaintDescriptions[] = {
    "",                          // unspecified category
    "系统响应慢，报表加载超时",  // PRODUCT
    "实施顾问响应不及时",        // SERVICE
    "上线时间比约定延误",        // DELIVERY
    "发票金额与合同不符",        // BILLING
    "客服沟通态度差",            // ATTITUDE
};
inline constexpr const char* kResolutions[] = {"已修复并回访确认", "已补偿一个月服务期",
                                               "已更换实施顾问", "已重开发票", "已道歉并加强培训"};
inline constexpr const char* kReopenReasons[] = {"问题复现", "客户不认可处理结果"};
inline constexpr const char* kResponseNotes[] = {"已受理，正在排查", "已联系客户了解情况"};

}  // namespace custops::demo::internal

#endif  // CUSTOPS_DEMO_SRC_VOCABULARY_H_
