//! Masking of numbers that identify a person (mobile and landline phone numbers, ID-card
//! numbers, bank cards, licence numbers written as digits) inside free text, before the
//! text leaves minyi as training data. Pure: no IO; it must not try to find names, which
//! a rule cannot do reliably (the corpus rules keep names out by review instead).

/// Replaces every run of at least [`MIN_DIGITS`] digits (ASCII or full-width, possibly
/// split by spaces or hyphens, with an ID card's final `X`) by as many `＊` as it has
/// characters, so the text keeps its shape. Shorter numbers (dates, amounts, house
/// numbers) are kept: they carry meaning and identify no one.
pub fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, with single separators between digits.
        let start = i;
        let mut end = i;
        let mut digits = 0;
        let mut j = i;
        while j < chars.len() {
            if is_digit(chars[j]) {
                digits += 1;
                j += 1;
                end = j;
            } else if matches!(chars[j], ' ' | '-' | '－')
                && chars.get(j + 1).is_some_and(|c| is_digit(*c))
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= 17
            && chars
                .get(end)
                .is_some_and(|c| matches!(c, 'X' | 'x' | 'Ｘ'))
        {
            end += 1;
        }
        if digits >= MIN_DIGITS {
            out.extend(std::iter::repeat_n('＊', end - start));
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
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
    fn phones_and_id_numbers_are_masked_and_short_numbers_kept() {
        assert_eq!(
            mask_numbers("电话13912345678，身份证53050219900101123X"),
            "电话＊＊＊＊＊＊＊＊＊＊＊，身份证＊＊＊＊＊＊＊＊＊＊＊＊＊＊＊＊＊＊"
        );
        assert_eq!(
            mask_numbers("座机0875-2123456"),
            "座机＊＊＊＊＊＊＊＊＊＊＊＊"
        );
        assert_eq!(
            mask_numbers("手机 139 1234 5678"),
            "手机 ＊＊＊＊＊＊＊＊＊＊＊＊＊"
        );
        assert_eq!(
            mask_numbers("全角１３９１２３４５６７８"),
            "全角＊＊＊＊＊＊＊＊＊＊＊"
        );
        assert_eq!(
            mask_numbers("2026年11月3日丢了300元，门牌12号"),
            "2026年11月3日丢了300元，门牌12号"
        );
        assert_eq!(mask_numbers(""), "");
        assert_eq!(mask_numbers("- 12-"), "- 12-");
    }
}
