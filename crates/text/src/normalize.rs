//! Text normalisation before feature extraction: full-width to half-width, common
//! traditional characters to simplified, ASCII lower-case, control and invisible
//! formatting characters removed, whitespace runs collapsed, and a length cap so a
//! 20,000-character paste costs no more than a long complaint.

use std::sync::OnceLock;

/// What normalisation saw and did; used to flag bad input without failing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputStats {
    /// Characters in the input.
    pub chars_in: usize,
    /// Characters kept in the normalised text (after the cap).
    pub chars_kept: usize,
    /// Han (Chinese) characters kept.
    pub han: usize,
    /// Control or invisible formatting characters removed.
    pub control_removed: usize,
    /// Whether the input was cut at the length cap.
    pub truncated: bool,
}

/// Common traditional characters and their simplified forms, as one string of pairs.
/// Only one-to-one mappings are listed: characters whose simplification depends on the
/// word (乾, 著, 髮/發 share 发 but both map there, so those are fine) are left out.
const TRAD_SIMP: &str = "這这個个們们來来說说時时為为國国會会對对學学發发經经過过還还後后開开關关\
問问題题見见現现長长門门東东車车書书電电話话報报員员區区縣县鄉乡鎮镇號号樓楼處处辦办證证\
戶户護护館馆醫医療疗藥药錢钱騙骗詐诈銀银帳账賬账轉转貸贷網网絡络訊讯碼码機机場场廠厂買买\
賣卖價价貨货質质飯饭飲饮雞鸡魚鱼鳥鸟馬马駕驾駛驶輛辆輪轮軍军農农業业產产歲岁兒儿孫孙爺爷\
媽妈親亲愛爱婦妇夥伙幫帮傷伤殺杀搶抢盜盗竊窃賭赌販贩鬧闹擾扰聲声響响燈灯燒烧煙烟熱热滅灭\
災灾險险難难務务勞劳動动領领導导態态讓让給给應应該该請请謝谢讚赞滿满認认識识記记錄录調调\
詢询訪访議议論论評评齊齐壞坏亂乱髒脏斷断線线氣气費费貴贵實实際际環环遠远邊边廣广廳厅廁厕\
園园圖图華华陽阳陰阴雲云龍龙灣湾島岛紅红綠绿藍蓝黃黄顏颜頭头臉脸腦脑體体聽听視视覺觉讀读\
寫写課课師师職职單单據据標标準准確确術术範范圍围條条規规節节專专與与無无從从雙双歡欢樂乐\
樣样萬万億亿隻只幾几麼么兩两種种麵面鬆松葉叶協协稅税辭辞聯联練练組组織织總总統统結结紀纪\
約约級级終终續续維维綁绑獨独狀状獎奖將将麗丽歷历歸归隊队陣阵陸陆階阶隨随隱隐靜静順顺須须\
預预頻频顧顾飛飞驗验驚惊鬥斗鐵铁鍵键鎖锁鏈链錯错鐘钟針针銷销鋪铺鍋锅閉闭間间閒闲閱阅闖闯\
雜杂離离頁页頓顿顯显風风飄飘饑饥驅驱騎骑鮮鲜鹽盐麥麦黨党齒齿嗎吗啊啊沒没錶表裡里襪袜誰谁\
還还們们讓让罰罚鄰邻居居舊旧樹树橋桥礦矿燙烫爛烂狀状猶犹瘋疯癮瘾盤盘睜睁瞭了礙碍禮礼禍祸\
積积穩稳窮穷競竞筆笔築筑簡简糧粮糾纠紛纷細细終终絕绝綜综緊紧緝缉縱纵繳缴罷罢聞闻聲声肅肃\
脅胁腳脚艱艰蘭兰虧亏蟲虫補补裝装複复襲袭覽览觀观訂订計计討讨託托訴诉詞词試试詳详誤误說说\
課课調调談谈諮咨謊谎講讲謠谣譽誉變变貧贫負负費费資资賊贼賠赔賺赚趕赶趙赵跡迹踐践蹤踪軟软\
輕轻輸输辦办農农逃逃週周進进運运違违遞递適适遺遗選选鄭郑醜丑釋释針针鈔钞銬铐錄录鍛锻鑰钥\
長长閃闪閘闸闊阔陳陈險险雖虽雞鸡電电靈灵韓韩頂顶項项順顺須须預预頑顽頒颁頭头頰颊類类顧顾\
飆飙飽饱餘余駐驻騷骚驟骤體体鬍胡魯鲁鳴鸣麼么黴霉龜龟";

/// The traditional → simplified table, sorted for binary search; built once.
fn trad_table() -> &'static [(char, char)] {
    static TABLE: OnceLock<Vec<(char, char)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let chars: Vec<char> = TRAD_SIMP.chars().filter(|c| !c.is_whitespace()).collect();
        let mut pairs: Vec<(char, char)> = chars
            .chunks_exact(2)
            .filter_map(|p| match p {
                [t, s] if t != s => Some((*t, *s)),
                _ => None,
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup_by_key(|p| p.0);
        pairs
    })
}

/// Whether a character is a Han ideograph (the blocks residents' text actually uses).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF)
}

/// Characters that render as nothing or steer layout; they only hide text from matching.
fn is_invisible(c: char) -> bool {
    matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF | 0x00AD)
}

/// Maps one character to its normalised form, or `None` to drop it.
#[inline]
pub fn normalize_char(c: char) -> Option<char> {
    let u = c as u32;
    if u < 0x80 {
        if c.is_ascii_control() {
            return if c == '\n' || c == '\t' || c == '\r' {
                Some(' ')
            } else {
                None
            };
        }
        return Some(c.to_ascii_lowercase());
    }
    if c.is_control() || is_invisible(c) {
        return None;
    }
    if (0xFF01..=0xFF5E).contains(&u) {
        // Full-width ASCII block maps by a fixed offset onto printable ASCII.
        return char::from_u32(u - 0xFEE0).map(|h| h.to_ascii_lowercase());
    }
    if u == 0x3000 || c.is_whitespace() {
        return Some(' ');
    }
    if (0x4E00..=0x9FFF).contains(&u) {
        let table = trad_table();
        if let Ok(i) = table.binary_search_by_key(&c, |p| p.0) {
            return table.get(i).map(|p| p.1);
        }
    }
    Some(c)
}

/// Normalises `input` into `out` (cleared first), keeping at most `max_chars` characters.
pub fn normalize_into(input: &str, max_chars: usize, out: &mut String) -> InputStats {
    out.clear();
    let mut stats = InputStats::default();
    let mut last_space = true;
    for c in input.chars() {
        stats.chars_in += 1;
        if stats.chars_kept >= max_chars {
            stats.truncated = true;
            continue;
        }
        let Some(n) = normalize_char(c) else {
            stats.control_removed += 1;
            continue;
        };
        if n == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
            if is_han(n) {
                stats.han += 1;
            }
        }
        out.push(n);
        stats.chars_kept += 1;
    }
    if out.ends_with(' ') {
        out.pop();
        stats.chars_kept = stats.chars_kept.saturating_sub(1);
    }
    stats
}

/// Convenience form of [`normalize_into`] returning a new string.
pub fn normalize(input: &str, max_chars: usize) -> (String, InputStats) {
    let mut out = String::with_capacity(input.len().min(max_chars.saturating_mul(4)));
    let stats = normalize_into(input, max_chars, &mut out);
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_traditional_fold() {
        let (s, st) = normalize("ＡＢＣ１２３，這個派出所的民警說話太衝了！", 100);
        assert!(s.starts_with("abc123,这个派出所的民警说话太"), "{s}");
        assert!(s.ends_with('!'));
        assert_eq!(st.control_removed, 0);
        assert!(!st.truncated);
    }

    #[test]
    fn control_and_invisible_characters_are_removed_and_spaces_collapse() {
        let (s, st) = normalize("  有人\u{0007}打架\u{200B}\n\n\t快来  ", 100);
        assert_eq!(s, "有人打架 快来");
        assert_eq!(st.control_removed, 2);
        assert_eq!(st.han, 6);
    }

    #[test]
    fn cap_truncates_and_reports() {
        let long = "吵".repeat(20_000);
        let (s, st) = normalize(&long, 500);
        assert_eq!(s.chars().count(), 500);
        assert!(st.truncated);
        assert_eq!(st.chars_in, 20_000);
    }

    #[test]
    fn table_has_no_identity_or_conflicting_entries() {
        let t = trad_table();
        assert!(t.len() > 300, "{}", t.len());
        for w in t.windows(2) {
            if let [a, b] = w {
                assert!(a.0 < b.0);
            }
        }
        let chars: Vec<char> = TRAD_SIMP.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(chars.len() % 2, 0, "table must be pairs");
        for p in chars.chunks_exact(2) {
            if let [tc, sc] = p {
                let mapped = t
                    .binary_search_by_key(tc, |x| x.0)
                    .ok()
                    .and_then(|i| t.get(i));
                if tc != sc {
                    assert_eq!(mapped.map(|x| x.1), Some(*sc), "{tc}");
                }
            }
        }
    }
}
