//! The rules-and-keywords classifier: category, sentiment, urgency, police or not and the
//! linked department of one text, from weighted keyword tables written by the project
//! (data in this file, not learned), with a confidence from the margin between the best
//! and the next label and the matched words as the explanation an analyst reads.
//!
//! It is the default triage at intake and the fallback when the trained model
//! ([`crate::Classifier`]) is unsure. It must never fail or panic: empty, non-Chinese,
//! emoji-only or overlong input comes back as `other` with low confidence and an issue.
//! It does no IO and knows nothing of units or areas; routing is the caller's.

use crate::labels::{Category, Department, Sentiment, Urgency};
use crate::model::InputIssue;
use crate::normalize::normalize;

/// Characters read from a text (an opinion holds at most 5,000).
pub const MAX_CHARS: usize = 5_000;

/// Below this confidence the rules' answer should be confirmed by an analyst.
pub const REVIEW_BELOW: f32 = 0.5;

/// Keywords with their weight: 3 names the label on its own, 2 is strong, 1 only leans.
type Words = &'static [(&'static str, u8)];

/// Police categories and the words that point to them. Common misspellings residents
/// type (homophones from pinyin input: 炸骗, 小投, 身份正, 户囗) are listed beside the
/// correct words.
const CATEGORY_WORDS: &[(Category, Words)] = &[
    (
        Category::Emergency110,
        &[
            ("救命", 3),
            ("着火", 3),
            ("起火", 3),
            ("失火", 3),
            ("火灾", 3),
            ("烧起来", 3),
            ("孩子走失", 3),
            ("走失", 3),
            ("孩子不见了", 3),
            ("小孩不见了", 3),
            ("找不到孩子", 3),
            ("失踪", 2),
            ("被困", 3),
            ("困在", 2),
            ("落水", 3),
            ("溺水", 3),
            ("掉河里", 3),
            ("跳楼", 3),
            ("跳河", 3),
            ("轻生", 3),
            ("自杀", 3),
            ("持刀", 3),
            ("拿刀", 2),
            ("砍人", 3),
            ("绑架", 3),
            ("正在打", 3),
            ("快来", 3),
            ("快点来", 3),
            ("赶紧来", 3),
            ("求救", 3),
            ("求助", 1),
            ("昏迷", 2),
            ("倒地", 2),
            ("口吐白沫", 3),
            ("流血", 2),
            ("迷路", 2),
            ("家暴", 2),
            ("燃气泄漏", 3),
            ("煤气泄漏", 3),
            ("爆炸", 3),
            ("倒塌", 2),
            ("塌了", 2),
            ("拉上车", 2),
            ("报警", 1),
            ("110", 1),
        ],
    ),
    (
        Category::CrimeReport,
        &[
            ("报案", 2),
            ("被偷", 3),
            ("偷了", 3),
            ("偷走", 3),
            ("偷东西", 3),
            ("小偷", 3),
            ("小投", 2),
            ("盗窃", 3),
            ("盗切", 2),
            ("被盗", 3),
            ("失窃", 3),
            ("偷窃", 3),
            ("扒手", 3),
            ("入室", 3),
            ("撬", 2),
            ("抢劫", 3),
            ("被抢", 3),
            ("抢走", 3),
            ("抢了", 2),
            ("殴打", 3),
            ("打伤", 3),
            ("被打", 2),
            ("打人", 2),
            ("砸坏", 2),
            ("砸了", 2),
            ("敲诈", 3),
            ("勒索", 3),
            ("收保护费", 3),
            ("黑社会", 2),
            ("恐吓", 2),
            ("威胁", 1),
            ("偷拍", 3),
            ("猥亵", 3),
            ("性骚扰", 2),
            ("强奸", 3),
            ("销赃", 3),
            ("调包", 2),
            ("逼债", 2),
            ("高利贷", 2),
            ("线索", 1),
        ],
    ),
    (
        Category::CaseProgress,
        &[
            ("进展", 3),
            ("进度", 2),
            ("立案", 2),
            ("结案", 2),
            ("破案", 3),
            ("没破", 2),
            ("抓到没", 3),
            ("抓到了没", 3),
            ("有没有抓到", 3),
            ("抓住没", 3),
            ("判了", 2),
            ("处理结果", 2),
            ("拘留", 1),
            ("嫌疑人", 1),
            ("在查", 2),
            ("还在查", 3),
            ("没有消息", 2),
            ("没消息", 2),
            ("没下文", 3),
            ("回告", 2),
            ("报了案", 2),
            ("报过案", 2),
            ("报案后", 2),
            ("报案以后", 2),
            ("案子", 2),
            ("案件", 2),
            ("退赃", 2),
            ("追回", 1),
        ],
    ),
    (
        Category::PublicOrder,
        &[
            ("治安", 3),
            ("噪音", 3),
            ("扰民", 3),
            ("太吵", 2),
            ("吵闹", 2),
            ("吵", 1),
            ("赌博", 3),
            ("聚赌", 3),
            ("赌钱", 3),
            ("麻将馆", 2),
            ("醉酒", 2),
            ("喝醉", 1),
            ("闹事", 3),
            ("打架", 2),
            ("斗殴", 3),
            ("滋事", 2),
            ("寻衅", 3),
            ("混混", 2),
            ("聚众", 2),
            ("卖淫", 3),
            ("色情", 2),
            ("洗头房", 2),
            ("巡逻", 2),
            ("群租", 2),
            ("黑旅馆", 2),
            ("广场舞", 2),
            ("音响", 2),
            ("喇叭", 1),
            ("烧烤摊", 1),
            ("放鞭炮", 1),
            ("纠纷", 1),
            ("乞讨", 1),
        ],
    ),
    (
        Category::Drugs,
        &[
            ("吸毒", 3),
            ("贩毒", 3),
            ("毒品", 3),
            ("毒贩", 3),
            ("制毒", 3),
            ("冰毒", 3),
            ("海洛因", 3),
            ("大麻", 3),
            ("罂粟", 3),
            ("摇头丸", 3),
            ("麻古", 3),
            ("k粉", 3),
            ("嗑药", 3),
            ("溜冰", 2),
            ("戒毒", 3),
            ("吸食", 2),
            ("针头", 2),
            ("注射器", 2),
            ("锡纸", 1),
        ],
    ),
    (
        Category::Fraud,
        &[
            ("诈骗", 3),
            ("炸骗", 3),
            ("诈片", 2),
            ("被骗", 3),
            ("骗子", 3),
            ("骗钱", 3),
            ("骗走", 3),
            ("骗了", 2),
            ("刷单", 3),
            ("杀猪盘", 3),
            ("安全账户", 3),
            ("跑分", 3),
            ("转账", 2),
            ("汇款", 1),
            ("验证码", 2),
            ("冒充", 2),
            ("假冒", 1),
            ("中奖", 2),
            ("链接", 2),
            ("返利", 2),
            ("网恋", 2),
            ("征信", 2),
            ("公检法", 2),
            ("洗钱", 2),
            ("传销", 2),
            ("银行卡", 1),
            ("虚拟币", 2),
            ("投资", 1),
            ("理财", 1),
            ("客服", 1),
            ("贷款", 1),
            ("缅甸", 2),
            ("反诈", 2),
        ],
    ),
    (
        Category::Traffic,
        &[
            ("交通", 2),
            ("堵车", 3),
            ("拥堵", 3),
            ("乱停", 3),
            ("违停", 3),
            ("停车", 2),
            ("红绿灯", 3),
            ("信号灯", 3),
            ("超速", 3),
            ("酒驾", 3),
            ("醉驾", 3),
            ("飙车", 3),
            ("车祸", 3),
            ("追尾", 3),
            ("撞车", 3),
            ("撞了", 2),
            ("交警", 2),
            ("斑马线", 2),
            ("逆行", 3),
            ("闯红灯", 3),
            ("渣土车", 2),
            ("大货车", 2),
            ("超载", 2),
            ("限速", 2),
            ("减速带", 2),
            ("电子眼", 2),
            ("头盔", 2),
            ("占道", 2),
            ("路口", 1),
            ("马路", 1),
            ("人行道", 1),
            ("公路", 1),
        ],
    ),
    (
        Category::VehicleAdmin,
        &[
            ("驾驶证", 3),
            ("驾照", 3),
            ("驾考", 3),
            ("驾校", 3),
            ("科目一", 3),
            ("科目二", 3),
            ("科目三", 3),
            ("科目四", 3),
            ("车管所", 3),
            ("上牌", 3),
            ("号牌", 3),
            ("临牌", 3),
            ("车牌", 2),
            ("年检", 3),
            ("年审", 3),
            ("检验合格", 2),
            ("过户", 3),
            ("行驶证", 3),
            ("车辆登记", 3),
            ("选号", 2),
            ("报废", 2),
            ("扣分", 2),
            ("违章", 1),
        ],
    ),
    (
        Category::Household,
        &[
            ("户口", 3),
            ("户囗", 2),
            ("户籍", 3),
            ("户政", 3),
            ("身份证", 3),
            ("身份正", 2),
            ("身分证", 2),
            ("落户", 3),
            ("上户", 3),
            ("迁户", 3),
            ("分户", 3),
            ("集体户", 3),
            ("黑户", 3),
            ("迁出", 2),
            ("迁入", 2),
            ("改名", 2),
            ("更名", 2),
            ("居住证", 3),
            ("暂住证", 2),
            ("开证明", 2),
            ("无犯罪记录", 2),
            ("亲属关系证明", 2),
            ("补办", 1),
        ],
    ),
    (
        Category::ExitEntry,
        &[
            ("护照", 3),
            ("通行证", 2),
            ("港澳", 2),
            ("签证", 3),
            ("签注", 3),
            ("出入境", 3),
            ("出国", 2),
            ("边境", 2),
            ("边民证", 3),
            ("偷渡", 3),
            ("外国人", 2),
            ("外籍", 2),
            ("入境", 2),
            ("出境", 2),
            ("边防", 2),
            ("口岸", 2),
            ("回乡证", 3),
        ],
    ),
    (
        Category::Conduct,
        &[
            ("态度差", 3),
            ("态度很差", 3),
            ("态度恶劣", 3),
            ("态度不好", 3),
            ("态度太差", 3),
            ("态度", 1),
            ("骂人", 2),
            ("骂我", 2),
            ("吼", 2),
            ("不耐烦", 2),
            ("爱理不理", 3),
            ("不理人", 2),
            ("推诿", 3),
            ("推脱", 3),
            ("踢皮球", 3),
            ("不作为", 3),
            ("乱作为", 3),
            ("敷衍", 3),
            ("应付", 2),
            ("刁难", 3),
            ("为难", 2),
            ("门难进", 3),
            ("脸难看", 3),
            ("脸色", 2),
            ("打官腔", 3),
            ("出警慢", 3),
            ("出警太慢", 3),
            ("不出警", 3),
            ("不给立案", 3),
            ("不立案", 2),
            ("收红包", 3),
            ("收钱", 2),
            ("吃拿卡要", 3),
            ("索贿", 3),
            ("受贿", 3),
            ("徇私", 3),
            ("偏袒", 3),
            ("偏向", 2),
            ("包庇", 3),
            ("滥用职权", 3),
            ("粗暴", 3),
            ("暴力执法", 3),
            ("乱罚款", 3),
            ("乱收费", 2),
            ("玩手机", 2),
            ("效率低", 2),
            ("一拖再拖", 2),
            ("弄丢", 1),
            ("辅警", 1),
            ("协警", 1),
            ("投诉", 1),
        ],
    ),
    (
        Category::Praise,
        &[
            ("感谢", 3),
            ("谢谢", 2),
            ("表扬", 3),
            ("点赞", 3),
            ("锦旗", 3),
            ("感激", 3),
            ("辛苦了", 3),
            ("暖心", 3),
            ("好人", 2),
            ("热心", 2),
            ("热情", 2),
            ("耐心", 2),
            ("尽职", 2),
            ("尽责", 2),
            ("给力", 2),
            ("态度很好", 3),
            ("态度好", 2),
            ("服务很好", 3),
            ("服务好", 2),
            ("太棒了", 2),
            ("负责", 1),
            ("及时", 1),
        ],
    ),
    (
        Category::Suggestion,
        &[
            ("建议", 3),
            ("提议", 3),
            ("倡议", 2),
            ("希望", 1),
            ("能不能", 1),
            ("可不可以", 1),
            ("是否可以", 1),
            ("应该", 1),
            ("增设", 2),
            ("改进", 2),
            ("完善", 2),
            ("优化", 2),
            ("加强", 1),
        ],
    ),
];

/// Linked departments and the words that point to them; any of these makes a matter
/// a candidate for `non_police`.
const DEPARTMENT_WORDS: &[(Department, Words)] = &[
    (
        Department::HousingConstruction,
        &[
            ("物业", 3),
            ("违建", 3),
            ("违章建筑", 3),
            ("违法建筑", 3),
            ("危房", 3),
            ("烂尾", 3),
            ("开发商", 3),
            ("拆迁", 2),
            ("交房", 3),
            ("工地", 2),
            ("施工", 2),
            ("电梯", 2),
            ("漏水", 1),
            ("装修", 1),
        ],
    ),
    (
        Department::Land,
        &[
            ("土地", 3),
            ("征地", 3),
            ("宅基地", 3),
            ("界桩", 3),
            ("地界", 3),
            ("耕地", 3),
            ("承包地", 3),
            ("土地证", 3),
            ("确权", 2),
            ("林地", 2),
            ("山林", 2),
            ("占地", 2),
        ],
    ),
    (
        Department::Petition,
        &[
            ("信访", 3),
            ("上访", 3),
            ("告状", 2),
            ("讨个说法", 2),
            ("冤", 2),
            ("省里", 1),
            ("多年", 1),
        ],
    ),
    (
        Department::Health,
        &[
            ("医院", 3),
            ("卫生院", 3),
            ("诊所", 3),
            ("医疗", 3),
            ("疫苗", 3),
            ("医生", 3),
            ("看病", 2),
            ("接种", 2),
            ("医保", 2),
            ("传染", 2),
            ("疫情", 2),
            ("护士", 2),
            ("手术", 2),
            ("狂犬", 2),
        ],
    ),
    (
        Department::Labour,
        &[
            ("工资", 3),
            ("欠薪", 3),
            ("讨薪", 3),
            ("包工头", 3),
            ("社保", 3),
            ("养老保险", 3),
            ("工伤", 3),
            ("劳动合同", 3),
            ("拖欠", 2),
            ("农民工", 2),
            ("辞退", 2),
            ("加班", 2),
            ("劳动", 2),
            ("打工", 1),
        ],
    ),
    (
        Department::Utilities,
        &[
            ("停水", 3),
            ("停电", 3),
            ("自来水", 3),
            ("路灯", 3),
            ("下水道", 3),
            ("井盖", 3),
            ("供暖", 3),
            ("暖气", 3),
            ("水管", 2),
            ("水压", 2),
            ("电费", 2),
            ("水费", 2),
            ("天然气", 2),
            ("燃气", 2),
            ("排水", 2),
            ("积水", 2),
            ("污水", 2),
            ("宽带", 2),
            ("电线", 2),
            ("变压器", 2),
            ("信号", 1),
        ],
    ),
    (
        Department::MarketRegulation,
        &[
            ("假货", 3),
            ("缺斤少两", 3),
            ("短斤少两", 3),
            ("食品安全", 3),
            ("预付卡", 3),
            ("三无", 3),
            ("地沟油", 3),
            ("过期", 2),
            ("变质", 2),
            ("办卡", 2),
            ("乱涨价", 2),
            ("消费者", 2),
            ("退货", 2),
            ("秤", 2),
            ("商家", 1),
            ("涨价", 1),
        ],
    ),
    (
        Department::Education,
        &[
            ("入学", 3),
            ("补课", 3),
            ("学费", 3),
            ("幼儿园", 3),
            ("教育局", 3),
            ("班主任", 3),
            ("转学", 3),
            ("招生", 3),
            ("学校", 2),
            ("老师", 2),
            ("上学", 2),
            ("学位", 2),
            ("校车", 2),
            ("作业", 2),
        ],
    ),
    (
        Department::Other,
        &[
            ("流浪狗", 2),
            ("野狗", 2),
            ("环卫", 2),
            ("环保", 2),
            ("污染", 2),
            ("排放", 2),
            ("低保", 2),
            ("民政", 2),
            ("垃圾", 1),
        ],
    ),
];

/// Words that make a matter urgent (handled the same day): harm happening now, someone
/// missing or in danger. The weak ones (正在, 马上) only count with another.
const URGENT_WORDS: Words = &[
    ("正在", 1),
    ("马上", 1),
    ("现在", 1),
    ("赶紧", 1),
    ("快点", 1),
    ("打人", 1),
    ("流血", 1),
    ("持刀", 2),
    ("拿刀", 2),
    ("砍人", 2),
    ("着火", 2),
    ("起火", 2),
    ("失火", 2),
    ("救命", 2),
    ("快来", 2),
    ("求救", 2),
    ("孩子走失", 2),
    ("走失", 2),
    ("孩子不见了", 2),
    ("小孩不见了", 2),
    ("失踪", 2),
    ("被困", 2),
    ("落水", 2),
    ("溺水", 2),
    ("跳楼", 2),
    ("跳河", 2),
    ("轻生", 2),
    ("自杀", 2),
    ("绑架", 2),
    ("昏迷", 2),
    ("爆炸", 2),
    ("燃气泄漏", 2),
    ("煤气泄漏", 2),
];

/// An urgency score at or above this is urgent.
const URGENT_AT: u32 = 2;

const POSITIVE_WORDS: Words = &[
    ("感谢", 2),
    ("谢谢", 2),
    ("表扬", 2),
    ("点赞", 2),
    ("满意", 2),
    ("感激", 2),
    ("辛苦", 1),
    ("好人", 2),
    ("热心", 1),
    ("耐心", 1),
    ("及时", 1),
    ("很好", 1),
    ("不错", 1),
    ("给力", 1),
    ("暖心", 2),
    ("放心", 1),
];

const NEGATIVE_WORDS: Words = &[
    ("投诉", 2),
    ("不满", 2),
    ("气死", 2),
    ("凭什么", 2),
    ("没人管", 2),
    ("不管", 1),
    ("太慢", 1),
    ("恶劣", 2),
    ("太差", 2),
    ("很差", 2),
    ("害怕", 1),
    ("担心", 1),
    ("太难", 1),
    ("烦", 1),
    ("乱", 1),
    ("吵", 1),
    ("骗", 1),
    ("偷", 1),
    ("坏了", 1),
    ("丢了", 1),
    ("受不了", 2),
    ("怎么回事", 1),
    ("太过分", 2),
];

/// Marks of a question (after normalisation, so `？` is `?`).
const QUESTION_MARKS: &[&str] = &[
    "?",
    "吗",
    "请问",
    "怎么",
    "如何",
    "多久",
    "能不能",
    "是不是",
    "哪里",
    "什么",
    "咨询",
];

/// Characters and pairs that, right before a word, deny it (没有被骗, 不满意).
const NEGATORS_1: &[char] = &['不', '没', '未', '别', '无', '非'];
const NEGATORS_2: &[&str] = &["没有", "不是", "并非", "从未", "从来没", "并不"];

/// One word that counted, and for which label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    /// The head: `category`, `department`, `urgency` or `sentiment`.
    pub head: &'static str,
    /// The label's code (`fraud`, `urgent`, `negative`…).
    pub label: &'static str,
    /// The keyword as written in the table.
    pub word: &'static str,
    /// Whether the word was denied (不满意 counts 满意 as negative).
    pub negated: bool,
}

/// What the rules decided about one text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RulePrediction {
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    /// Set exactly for `non_police`.
    pub department: Option<Department>,
    /// Whether the police should handle it (everything but `non_police`).
    pub police: bool,
    /// How sure the rules are of the category, 0 to 1 (0 for unreadable input).
    pub confidence: f32,
    /// The words that decided the labels given, in table order per head.
    pub hits: Vec<Hit>,
    /// Set when the text could not be read on its content.
    pub issue: Option<InputIssue>,
    /// The text was longer than [`MAX_CHARS`]; only the start was read.
    pub truncated: bool,
}

impl RulePrediction {
    /// Whether an analyst should confirm the category.
    pub fn needs_review(&self) -> bool {
        self.confidence < REVIEW_BELOW
    }

    /// The explanation as one line: each head with the words behind it, e.g.
    /// `category=fraud(被骗,转账); urgency=urgent(正在,持刀)`.
    pub fn explanation(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(issue) = self.issue {
            parts.push(format!("input={}", issue.code()));
        }
        for head in ["category", "department", "urgency", "sentiment"] {
            let words: Vec<String> = self
                .hits
                .iter()
                .filter(|h| h.head == head)
                .map(|h| {
                    if h.negated {
                        format!("不{}", h.word)
                    } else {
                        h.word.to_owned()
                    }
                })
                .collect();
            if words.is_empty() {
                continue;
            }
            let label = self
                .hits
                .iter()
                .find(|h| h.head == head)
                .map(|h| h.label)
                .unwrap_or_default();
            parts.push(format!("{head}={label}({})", words.join(",")));
        }
        parts.join("; ")
    }
}

/// Whether the occurrence of a word at byte `at` of `text` is denied by what precedes it.
fn negated_at(text: &str, at: usize) -> bool {
    let before = text.get(..at).unwrap_or("");
    NEGATORS_2.iter().any(|n| before.ends_with(n))
        || before
            .chars()
            .next_back()
            .is_some_and(|c| NEGATORS_1.contains(&c))
}

/// How a word occurs: not at all, only denied, or at least once plainly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    No,
    Denied,
    Yes,
}

fn seen(text: &str, word: &str) -> Seen {
    let mut out = Seen::No;
    for (at, _) in text.match_indices(word) {
        if negated_at(text, at) {
            out = Seen::Denied;
        } else {
            return Seen::Yes;
        }
    }
    out
}

/// Sums the weights of the words that occur plainly (each word once, so repeating a word
/// does not shout louder); a denied word does not count.
fn score(text: &str, words: Words) -> (u32, Vec<&'static str>) {
    let mut total = 0;
    let mut hits = Vec::new();
    for &(w, weight) in words {
        if seen(text, w) == Seen::Yes {
            total += u32::from(weight);
            hits.push(w);
        }
    }
    (total, hits)
}

/// Confidence from the winner's score and the runner-up's: a lone strong word gives
/// about 0.6, several agreeing words approach 0.95, a close second pulls it down.
fn confidence(best: u32, second: u32) -> f32 {
    if best == 0 {
        return 0.1;
    }
    let (b, s) = (best as f32, second as f32);
    let strength = b / (b + 2.0);
    let margin = (b - s) / b;
    (0.25 + 0.7 * strength * (0.4 + 0.6 * margin)).clamp(0.1, 0.95)
}

/// Classifies one text. Never fails.
pub fn classify(text: &str) -> RulePrediction {
    let (norm, stats) = normalize(text, MAX_CHARS);
    // Residents put spaces between characters; words are matched without them.
    let compact: String = norm.chars().filter(|c| !c.is_whitespace()).collect();
    let issue = if compact.is_empty() {
        Some(InputIssue::Empty)
    } else if stats.han == 0 {
        Some(InputIssue::NoChinese)
    } else {
        None
    };
    if let Some(issue) = issue {
        return RulePrediction {
            category: Category::Other,
            sentiment: Sentiment::Neutral,
            urgency: Urgency::Normal,
            department: None,
            police: true,
            confidence: 0.0,
            hits: Vec::new(),
            issue: Some(issue),
            truncated: stats.truncated,
        };
    }
    let mut hits = Vec::new();

    // Category: the best police category against the best department.
    let mut ranked: Vec<(u32, usize, Category, Vec<&'static str>)> = CATEGORY_WORDS
        .iter()
        .enumerate()
        .map(|(order, (c, words))| {
            let (s, w) = score(&compact, words);
            (s, order, *c, w)
        })
        .collect();
    // Highest score first; on a tie the table order decides (emergencies and crimes
    // before services), so a matter that could be either reaches the more serious desk.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut depts: Vec<(u32, usize, Department, Vec<&'static str>)> = DEPARTMENT_WORDS
        .iter()
        .enumerate()
        .map(|(order, (d, words))| {
            let (s, w) = score(&compact, words);
            (s, order, *d, w)
        })
        .collect();
    depts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let (police_best, police_second) = (
        ranked.first().map_or(0, |r| r.0),
        ranked.get(1).map_or(0, |r| r.0),
    );
    let dept_best = depts.first().map_or(0, |d| d.0);
    let (category, department, conf) = if dept_best > police_best {
        let (d, words) = depts
            .first()
            .map(|d| (d.2, d.3.clone()))
            .unwrap_or((Department::Other, Vec::new()));
        for w in words {
            hits.push(Hit {
                head: "department",
                label: d.code(),
                word: w,
                negated: false,
            });
        }
        (
            Category::NonPolice,
            Some(d),
            confidence(dept_best, police_best.max(depts.get(1).map_or(0, |d| d.0))),
        )
    } else if police_best > 0 {
        let (c, words) = ranked
            .first()
            .map(|r| (r.2, r.3.clone()))
            .unwrap_or((Category::Other, Vec::new()));
        for w in words {
            hits.push(Hit {
                head: "category",
                label: c.code(),
                word: w,
                negated: false,
            });
        }
        (
            c,
            None,
            confidence(police_best, police_second.max(dept_best)),
        )
    } else {
        (Category::Other, None, confidence(0, 0))
    };

    // Urgency: words of harm happening now; an emergency category is urgent by itself.
    let (u_score, u_words) = score(&compact, URGENT_WORDS);
    let urgency = if u_score >= URGENT_AT || category == Category::Emergency110 {
        Urgency::Urgent
    } else {
        Urgency::Normal
    };
    if urgency == Urgency::Urgent {
        for w in u_words {
            hits.push(Hit {
                head: "urgency",
                label: Urgency::Urgent.code(),
                word: w,
                negated: false,
            });
        }
    }

    // Sentiment: plain positive against negative words; a denied positive (不满意)
    // counts as negative. Without either, the category's usual tone.
    let mut pos = 0u32;
    let mut neg = 0u32;
    let mut s_hits: Vec<(Sentiment, &'static str, bool)> = Vec::new();
    for &(w, weight) in POSITIVE_WORDS {
        match seen(&compact, w) {
            Seen::Yes => {
                pos += u32::from(weight);
                s_hits.push((Sentiment::Positive, w, false));
            }
            Seen::Denied => {
                neg += u32::from(weight);
                s_hits.push((Sentiment::Negative, w, true));
            }
            Seen::No => {}
        }
    }
    for &(w, weight) in NEGATIVE_WORDS {
        if seen(&compact, w) == Seen::Yes {
            neg += u32::from(weight);
            s_hits.push((Sentiment::Negative, w, false));
        }
    }
    let sentiment = if pos > neg || (category == Category::Praise && neg <= pos + 1) {
        Sentiment::Positive
    } else if neg > pos {
        Sentiment::Negative
    } else {
        // Without tone words: residents who write to the police about a service mostly
        // complain, unless they are asking something.
        let asks = QUESTION_MARKS.iter().any(|q| compact.contains(q));
        match category {
            Category::Praise => Sentiment::Positive,
            Category::Suggestion | Category::Other => Sentiment::Neutral,
            Category::CrimeReport
            | Category::Fraud
            | Category::Drugs
            | Category::Conduct
            | Category::Emergency110
            | Category::PublicOrder => Sentiment::Negative,
            _ if asks => Sentiment::Neutral,
            _ => Sentiment::Negative,
        }
    };
    for (s, w, negated) in s_hits {
        if s == sentiment {
            hits.push(Hit {
                head: "sentiment",
                label: s.code(),
                word: w,
                negated,
            });
        }
    }

    RulePrediction {
        police: category != Category::NonPolice,
        category,
        sentiment,
        urgency,
        department,
        confidence: conf,
        hits,
        issue: None,
        truncated: stats.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(text: &str) -> Category {
        classify(text).category
    }

    #[test]
    fn clear_cases_get_their_category_with_the_words_as_reasons() {
        let p = classify("我的电动车昨晚在小区门口被偷了，监控拍到了人");
        assert_eq!(p.category, Category::CrimeReport);
        assert!(p.hits.iter().any(|h| h.word == "被偷"), "{:?}", p.hits);
        assert!(
            p.explanation().contains("category=crime_report(被偷"),
            "{}",
            p.explanation()
        );
        assert!(p.police);
        assert_eq!(
            cat("接到一个冒充公检法的电话，让我把钱转到安全账户"),
            Category::Fraud
        );
        assert_eq!(
            cat("村口那家小卖部后面天天有人聚众赌博"),
            Category::PublicOrder
        );
        assert_eq!(cat("楼下那个人好像在吸毒，地上全是针头"), Category::Drugs);
        assert_eq!(
            cat("学校门口早晚堵车，家长乱停车，交警也不来"),
            Category::Traffic
        );
        assert_eq!(cat("驾驶证到期了换证要带什么"), Category::VehicleAdmin);
        assert_eq!(cat("孩子上户口需要哪些材料"), Category::Household);
        assert_eq!(cat("办护照要多久能拿到"), Category::ExitEntry);
        assert_eq!(cat("我报案三个月了一点进展都没有"), Category::CaseProgress);
        assert_eq!(cat("窗口的辅警态度很差，问两句就不耐烦"), Category::Conduct);
        assert_eq!(
            cat("感谢城南派出所的民警帮我找回了钱包，辛苦了"),
            Category::Praise
        );
        assert_eq!(cat("建议在夜市那边多安排一些巡逻"), Category::Suggestion);
    }

    #[test]
    fn non_police_matters_name_their_department() {
        let p = classify("老板拖欠我们三个月工资不给，包工头也跑了");
        assert_eq!(p.category, Category::NonPolice);
        assert_eq!(p.department, Some(Department::Labour));
        assert!(!p.police);
        assert!(
            p.explanation().contains("department=labour("),
            "{}",
            p.explanation()
        );
        assert_eq!(
            classify("我们这条街的路灯坏了一个月了").department,
            Some(Department::Utilities)
        );
        assert_eq!(
            classify("宅基地被邻居占了，界桩也被挪了").department,
            Some(Department::Land)
        );
        assert_eq!(
            classify("物业乱收费，小区电梯老是坏").department,
            Some(Department::HousingConstruction)
        );
        assert_eq!(classify("被偷了东西").department, None);
    }

    #[test]
    fn urgent_words_make_it_urgent_and_weak_words_alone_do_not() {
        for t in [
            "有人正在打人，快来",
            "楼下有个人持刀在街上",
            "隔壁着火了",
            "救命",
            "孩子走失了，穿红衣服，在菜市场不见的",
        ] {
            let p = classify(t);
            assert_eq!(p.urgency, Urgency::Urgent, "{t}: {:?}", p.hits);
            assert!(
                p.explanation().contains("urgency=urgent("),
                "{}",
                p.explanation()
            );
        }
        assert_eq!(
            classify("身份证正在办理中，想问下进度").urgency,
            Urgency::Normal
        );
        assert_eq!(classify("马上过年了，建议多巡逻").urgency, Urgency::Normal);
    }

    #[test]
    fn sentiment_follows_words_and_denials() {
        assert_eq!(classify("非常感谢民警同志").sentiment, Sentiment::Positive);
        let p = classify("对处理结果很不满意");
        assert_eq!(p.sentiment, Sentiment::Negative);
        assert!(p.hits.iter().any(|h| h.word == "满意" && h.negated));
        assert_eq!(
            classify("请问户口迁移怎么办理").sentiment,
            Sentiment::Neutral
        );
        // A denied category word does not count: 没有被骗 is not a fraud report.
        let p = classify("还好没有被骗，提醒大家");
        assert!(!p.hits.iter().any(|h| h.word == "被骗"), "{:?}", p.hits);
    }

    #[test]
    fn colloquial_misspelt_traditional_and_spaced_text() {
        assert_eq!(cat("昨天接了个炸骗电话，骗子说我中奖了"), Category::Fraud);
        assert_eq!(cat("我家被小投光顾了，门锁都被撬了"), Category::CrimeReport);
        assert_eq!(cat("補辦身份正要多久啊"), Category::Household);
        assert_eq!(cat("有 人 在 吸 毒"), Category::Drugs);
        assert_eq!(cat("這個派出所的民警態度太差了"), Category::Conduct);
        assert_eq!(cat("ＫＴＶ门口每晚都有人打架斗殴"), Category::PublicOrder);
    }

    #[test]
    fn unreadable_input_is_other_with_low_confidence_and_never_panics() {
        for t in [
            "",
            "   \n\t ",
            "\u{200B}\u{0007}",
            "hello, is anyone there?",
            "😀😀🙏",
            "12345",
        ] {
            let p = classify(t);
            assert_eq!(p.category, Category::Other, "{t:?}");
            assert_eq!(p.confidence, 0.0, "{t:?}");
            assert!(p.issue.is_some(), "{t:?}");
            assert!(p.needs_review());
        }
        let p = classify("你好😀");
        assert_eq!(p.category, Category::Other);
        assert!(p.confidence <= 0.1 && p.issue.is_none());
        let p = classify("嗯");
        assert_eq!(p.category, Category::Other);
        assert!(p.needs_review());
    }

    #[test]
    fn long_text_is_read_to_the_cap_and_flags_truncation() {
        let long = format!("{}{}", "我想反映一下情况。".repeat(560), "有人被偷了");
        assert!(long.chars().count() > MAX_CHARS);
        let p = classify(&long);
        assert!(p.truncated);
        assert_eq!(
            p.category,
            Category::Other,
            "the words past the cap are not read"
        );
        let p = classify(&format!("电动车被偷了。{}", "情况就是这样。".repeat(700)));
        assert_eq!(p.category, Category::CrimeReport);
        let mixed = "被偷了 stolen بالأمس 🚲 ".repeat(300);
        let p = classify(&mixed);
        assert_eq!(p.category, Category::CrimeReport);
    }

    #[test]
    fn confidence_grows_with_agreeing_words_and_shrinks_with_a_close_second() {
        let one = classify("被偷了").confidence;
        let many = classify("家里被盗了，小偷撬了门偷走了金项链，我要报案").confidence;
        assert!(many > one, "{many} vs {one}");
        assert!((0.0..=1.0).contains(&one) && (0.0..=1.0).contains(&many));
        assert!(confidence(3, 3) < confidence(3, 0));
    }

    #[test]
    fn every_table_word_is_normalised_form_without_spaces() {
        let tables = CATEGORY_WORDS
            .iter()
            .flat_map(|(_, w)| w.iter())
            .chain(DEPARTMENT_WORDS.iter().flat_map(|(_, w)| w.iter()))
            .chain(URGENT_WORDS.iter())
            .chain(POSITIVE_WORDS.iter())
            .chain(NEGATIVE_WORDS.iter());
        for (w, weight) in tables {
            let (n, _) = normalize(w, 100);
            assert_eq!(
                &n, w,
                "table word {w} must be written as normalisation leaves it"
            );
            assert!((1..=3).contains(weight), "{w}");
        }
        assert_eq!(
            CATEGORY_WORDS.len(),
            Category::ALL.len() - 2,
            "all but non_police and other"
        );
        assert_eq!(DEPARTMENT_WORDS.len(), Department::ALL.len());
    }

    /// The rules on the project's labelled corpus: far below the trained model, but far
    /// above guessing; the figure guards against a table edit that breaks a category.
    #[test]
    fn accuracy_on_the_labelled_corpus() {
        let corpus = crate::corpus::builtin_corpus().unwrap_or_default();
        assert!(corpus.len() > 1000);
        let right = corpus
            .iter()
            .filter(|e| classify(&e.text).category == e.category)
            .count();
        let acc = right as f64 / corpus.len() as f64;
        eprintln!(
            "rules: category accuracy {acc:.3} on {} examples",
            corpus.len()
        );
        assert!(acc > 0.5, "{acc}");
        let tone = corpus
            .iter()
            .filter(|e| classify(&e.text).sentiment == e.sentiment)
            .count() as f64
            / corpus.len() as f64;
        eprintln!("rules: sentiment accuracy {tone:.3}");
        assert!(tone > 0.6, "{tone}");
    }
}
