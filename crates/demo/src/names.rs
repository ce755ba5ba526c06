//! Synthetic Chinese person and place names for the demo city.
//!
//! Everything here is invented: names are random combinations drawn from lists of
//! common characters, so any match with a real person or place is coincidence. Place
//! names imitate the shape of Yunnan names (坝、甸、箐、哨、营、寨 …) without copying
//! a gazetteer. Output depends only on the random generator, so a seeded generator
//! gives the same names every run.

use std::collections::HashSet;

use rand::Rng;

/// Common Han surnames, most frequent first and repeated so frequent ones come up more
/// often; the tail carries a few surnames typical of western Yunnan (寸、段、杞、字).
pub(crate) const SURNAMES: &[&str] = &[
    "李", "王", "张", "刘", "陈", "杨", "杨", "李", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱",
    "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "董", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "丁", "魏", "叶", "余",
    "潘", "杜", "夏", "钟", "汪", "田", "任", "姜", "范", "方", "石", "姚", "谭", "廖", "邹", "熊",
    "金", "陆", "孔", "白", "崔", "毛", "邱", "秦", "江", "史", "顾", "侯", "邵", "孟", "龙", "段",
    "段", "雷", "尹", "尹", "常", "赖", "龚", "寸", "寸", "杞", "字", "闵", "普", "施", "晏", "蔺",
    "浦", "封",
];

/// Given-name characters that commonly open a two-character name.
const GIVEN_FIRST_M: &[&str] = &[
    "建", "志", "国", "永", "文", "家", "德", "明", "学", "成", "正", "开", "绍", "朝", "兴", "云",
    "世", "光", "天", "俊", "浩", "子", "晓", "宏", "春", "海", "金", "振", "庆", "有", "继", "忠",
    "维", "伟", "加", "应", "中", "宗",
];
const GIVEN_SECOND_M: &[&str] = &[
    "华", "明", "军", "平", "林", "强", "伟", "勇", "峰", "东", "辉", "祥", "荣", "福", "昌", "生",
    "忠", "贵", "兵", "涛", "杰", "斌", "亮", "鹏", "宇", "波", "红", "才", "发", "顺", "武", "刚",
    "洪", "良", "进", "鑫", "彪", "江",
];
const GIVEN_FIRST_F: &[&str] = &[
    "丽", "秀", "美", "玉", "桂", "春", "晓", "雪", "海", "艳", "金", "月", "婷", "思", "佳", "雨",
    "红", "翠", "菊", "兰", "亚", "文", "小", "银", "凤", "慧", "梦", "欣",
];
const GIVEN_SECOND_F: &[&str] = &[
    "芳", "英", "兰", "珍", "梅", "琼", "燕", "霞", "娟", "萍", "丽", "红", "敏", "琴", "仙", "花",
    "颖", "婷", "莲", "芬", "娇", "秀", "媛", "洁", "蓉", "菊", "萱", "怡",
];
/// Single-character given names, common for both older and younger people.
const GIVEN_SINGLE: &[&str] = &[
    "勇", "伟", "军", "强", "磊", "涛", "芳", "丽", "敏", "静", "杰", "斌", "华", "琼", "艳", "燕",
    "平", "波", "刚", "英", "红", "霞", "鹏", "洁", "娟", "宇", "明", "林",
];

/// First syllables of invented place names.
const PLACE_FIRST: &[&str] = &[
    "大", "小", "上", "下", "新", "老", "清", "龙", "马", "牛", "白", "黑", "红", "金", "银", "石",
    "水", "河", "江", "山", "云", "松", "柏", "杨", "柳", "茶", "桃", "李", "梨", "竹", "芒", "勐",
    "蒲", "瓦", "板", "木", "团", "旧", "中", "东", "西", "南", "北", "平", "长", "高", "双", "三",
    "凤", "鹤", "象", "猴", "鸡", "碧", "青", "黄", "太", "永", "安", "福", "丙", "腊", "曼", "那",
    "弄", "蕨", "麦", "荞", "橄", "芭", "坪", "沙", "烟", "盐", "铜", "铁", "羊", "鹿", "蛮", "热",
    "温", "漕", "芦", "栗",
];
/// Syllables that close a place name; many are landform words common in Yunnan.
const PLACE_LAST: &[&str] = &[
    "坝", "甸", "哨", "营", "寨", "街", "山", "箐", "塘", "厂", "关", "屯", "坡", "场", "铺", "桥",
    "沟", "河", "冲", "凹", "田", "湾", "岭", "庄", "头", "口", "岗", "林", "平", "溪", "谷", "堡",
    "朗", "掌", "棚", "洼", "园", "井", "窝", "坪",
];
/// Minority designations that some Yunnan townships carry (民族乡).
const ETHNIC_TOWNSHIP: &[&str] = &[
    "彝族乡",
    "傈僳族乡",
    "傣族乡",
    "白族乡",
    "布朗族彝族乡",
    "佤族乡",
];

/// Picks one element of a non-empty static list; an empty list yields "" rather than
/// panicking, so a mistake in the lists shows up as missing text, never as a crash.
pub(crate) fn pick<'a>(rng: &mut impl Rng, list: &[&'a str]) -> &'a str {
    if list.is_empty() {
        return "";
    }
    list.get(rng.random_range(0..list.len()))
        .copied()
        .unwrap_or("")
}

/// A random common surname.
pub fn surname(rng: &mut impl Rng) -> &'static str {
    pick(rng, SURNAMES)
}

/// An invented full name: a surname and a one- or two-character given name.
pub fn person_name(rng: &mut impl Rng) -> String {
    let mut name = String::with_capacity(9);
    name.push_str(surname(rng));
    if rng.random_bool(0.22) {
        name.push_str(pick(rng, GIVEN_SINGLE));
        return name;
    }
    let (first, second) = if rng.random_bool(0.5) {
        (GIVEN_FIRST_M, GIVEN_SECOND_M)
    } else {
        (GIVEN_FIRST_F, GIVEN_SECOND_F)
    };
    let a = pick(rng, first);
    let mut b = pick(rng, second);
    // A doubled character (丽丽) is fine for a nickname but odd as a registered name.
    while b == a {
        b = pick(rng, second);
    }
    name.push_str(a);
    name.push_str(b);
    name
}

/// Builds a stem of `syllables` characters: free first syllables, then a landform
/// syllable at the end; no character repeats next to itself.
fn stem(rng: &mut impl Rng, syllables: usize, out: &mut String) {
    out.clear();
    let mut last = "";
    for i in 0..syllables {
        let list = if i + 1 == syllables {
            PLACE_LAST
        } else {
            PLACE_FIRST
        };
        let mut s = pick(rng, list);
        while s == last {
            s = pick(rng, list);
        }
        out.push_str(s);
        last = s;
    }
}

/// Generates `n` distinct names by drawing stems and adding a suffix; when draws keep
/// colliding the stems grow by a syllable, so any `n` terminates with distinct names.
fn distinct_names<R: Rng>(
    rng: &mut R,
    n: usize,
    suffix: impl Fn(&mut R, usize) -> &'static str,
) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut seen: HashSet<String> = HashSet::with_capacity(n);
    let mut syllables = 2;
    let mut misses = 0u32;
    let mut buf = String::new();
    while out.len() < n {
        // Three-syllable names (大田坝) are common too, not only a fallback.
        let len = if syllables == 2 && rng.random_bool(0.12) {
            3
        } else {
            syllables
        };
        stem(rng, len, &mut buf);
        buf.push_str(suffix(rng, len));
        if seen.contains(&buf) {
            misses += 1;
            if misses >= 64 {
                syllables += 1;
                misses = 0;
            }
            continue;
        }
        misses = 0;
        seen.insert(buf.clone());
        out.push(buf.clone());
    }
    out
}

/// `n` distinct invented township names (镇 / 乡 / 街道, a few 民族乡).
pub fn township_names(rng: &mut impl Rng, n: usize) -> Vec<String> {
    distinct_names(rng, n, |r, len| {
        let roll = r.random_range(0..100);
        match roll {
            0..55 => "镇",
            55..85 => "乡",
            85..92 if len == 2 => pick(r, ETHNIC_TOWNSHIP),
            _ => "街道",
        }
    })
}

/// `n` distinct invented village or community names (村 / 社区).
pub fn village_names(rng: &mut impl Rng, n: usize) -> Vec<String> {
    distinct_names(
        rng,
        n,
        |r, _| if r.random_bool(0.85) { "村" } else { "社区" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn char_len(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn person_names_are_plausible_and_deterministic() {
        let mut a = ChaCha8Rng::seed_from_u64(7);
        let mut b = ChaCha8Rng::seed_from_u64(7);
        let mut distinct = HashSet::new();
        for _ in 0..2_000 {
            let n = person_name(&mut a);
            assert_eq!(n, person_name(&mut b));
            let len = char_len(&n);
            assert!((2..=3).contains(&len), "{n}");
            assert!(
                n.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{n}"
            );
            distinct.insert(n);
        }
        // Many combinations, so 2,000 draws should rarely repeat.
        assert!(distinct.len() > 1_500, "only {} distinct", distinct.len());
    }

    #[test]
    fn township_names_are_distinct_even_for_a_thousand() {
        for seed in [1u64, 2, 3] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let names = township_names(&mut rng, 1_000);
            assert_eq!(names.len(), 1_000);
            let set: HashSet<_> = names.iter().collect();
            assert_eq!(set.len(), 1_000);
            for n in &names {
                assert!(
                    n.ends_with('镇') || n.ends_with('乡') || n.ends_with("街道"),
                    "{n}"
                );
                assert!(char_len(n) >= 3, "{n}");
            }
        }
    }

    #[test]
    fn village_names_are_distinct_and_deterministic() {
        let mut a = ChaCha8Rng::seed_from_u64(9);
        let mut b = ChaCha8Rng::seed_from_u64(9);
        let va = village_names(&mut a, 1_000);
        assert_eq!(va, village_names(&mut b, 1_000));
        let set: HashSet<_> = va.iter().collect();
        assert_eq!(set.len(), 1_000);
        assert!(va.iter().all(|v| v.ends_with('村') || v.ends_with("社区")));
        assert!(village_names(&mut a, 0).is_empty());
    }

    #[test]
    fn names_stay_distinct_beyond_the_two_syllable_space() {
        // 90 × 40 two-syllable stems per suffix: 10,000 names forces longer stems.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let v = village_names(&mut rng, 10_000);
        let set: HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), 10_000);
    }
}
