//! Masking of personal data inside free text (phone, ID-card and bank-card numbers, a name
//! given after a cue such as 我叫) before the text leaves minyi: briefings' excerpts and
//! analysts' corrections exported as training data. Pure: no IO. It must not claim to find
//! every name, which a rule cannot do reliably (exports are reviewed before use).

/// Stars personal data in free text: runs of [`MIN_DIGITS`] or more digits (phone, ID, bank card
/// numbers; an ID's trailing X included) keep at most their first 3 and last 2 digits, and
/// a name given after 我叫 / 姓名 / 联系人 is starred after its first character.
/// Control characters become spaces. It errs towards hiding: a long order number is
/// starred too.
pub fn mask_personal(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let digit = is_digit;
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if digit(c) {
            let start = i;
            while i < chars.len()
                && (digit(chars[i])
                    || (chars[i] == '-' || chars[i] == ' ')
                        && i + 1 < chars.len()
                        && digit(chars[i + 1]))
            {
                i += 1;
            }
            if i < chars.len() && matches!(chars[i], 'x' | 'X') {
                i += 1;
            }
            let run: Vec<char> = chars[start..i].to_vec();
            let digits = run.iter().filter(|c| digit(**c)).count();
            if digits >= MIN_DIGITS {
                let head: String = run.iter().take(3).collect();
                let tail: String = run[run.len() - 2..].iter().collect();
                out.push_str(&head);
                out.push_str("****");
                out.push_str(&tail);
            } else {
                out.extend(run);
            }
            continue;
        }
        if c.is_control() {
            out.push(' ');
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
        for cue in [
            "我叫",
            "姓名：",
            "姓名:",
            "姓名",
            "联系人：",
            "联系人:",
            "联系人",
        ] {
            let cue: Vec<char> = cue.chars().collect();
            // The cue ends at the character just pushed.
            if i >= cue.len() && chars[i - cue.len()..i] == cue[..] {
                let is_han = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
                let mut j = i;
                while j < chars.len() && j - i < 3 && is_han(chars[j]) {
                    j += 1;
                }
                if j - i >= 2 {
                    out.push(chars[i]);
                    out.extend(std::iter::repeat_n('*', j - i - 1));
                    i = j;
                }
                break;
            }
        }
    }
    out
}

/// Runs of this many digits or more are masked: a landline without area code has 7.
pub const MIN_DIGITS: usize = 7;

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_and_given_names_but_keeps_the_rest() {
        assert_eq!(
            mask_personal("我叫张三丰，电话13812345678，身份证53010219900101123X。"),
            "我叫张**，电话138****78，身份证530****3X。"
        );
        assert_eq!(
            mask_personal("门牌12号，车牌云M12345"),
            "门牌12号，车牌云M12345"
        );
        assert_eq!(mask_personal("0875-2123456"), "087****56");
        assert_eq!(mask_personal("手机 139 1234 5678"), "手机 139****78");
        assert_eq!(
            mask_personal("全角１３９１２３４５６７８"),
            "全角１３９****７８"
        );
        assert_eq!(
            mask_personal("2026年11月3日丢了300元，门牌12号"),
            "2026年11月3日丢了300元，门牌12号"
        );
        assert_eq!(mask_personal("换行\u{7}控制"), "换行 控制");
        assert_eq!(mask_personal(""), "");
        assert_eq!(mask_personal("- 12-"), "- 12-");
    }
}
