//! The XLSX export of a run in the shape offices use: a 排名 (ranking) sheet, a 指标明细
//! (indicator detail) sheet and a 运行信息 (run information) sheet with the scheme and
//! hashes. Sheet names and headers are Chinese whatever the page language, because the
//! workbook is what offices file and forward; the columns are documented in
//! docs/formats.md. Pure: a function of the run, no store access.

use minyi_assess::RunResult;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::view::{
    Names, group_ids, group_label, indicator_ids, indicator_label, interval_text, outcomes_text,
};
use crate::i18n::Lang;

/// Sheet names, in order.
pub const SHEETS: [&str; 3] = ["排名", "指标明细", "运行信息"];

/// What the 运行信息 sheet lists besides the result itself.
pub struct RunInfo<'a> {
    pub run_id: i64,
    pub period: &'a str,
    pub scheme_id: &'a str,
    pub scheme_version: &'a str,
    pub scheme_hash: &'a str,
    pub input_hash: &'a str,
    pub result_hash: &'a str,
    pub created_at: String,
    pub created_by: &'a str,
    pub parent: Option<i64>,
    pub reason: Option<&'a str>,
}

/// Builds the workbook.
pub fn workbook(run: &RunResult, names: &Names, info: &RunInfo<'_>) -> Result<Vec<u8>, XlsxError> {
    // Offices file the Chinese workbook; the outcome words are Chinese too.
    let lang = Lang::ZhCn;
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let two = Format::new().set_num_format("0.00");
    let four = Format::new().set_num_format("0.0000");

    // 排名
    let groups = group_ids(run);
    let indicators = indicator_ids(run);
    {
        let ws = wb.add_worksheet();
        ws.set_name(SHEETS[0])?;
        let mut head: Vec<String> = vec![
            "序号".into(),
            "单位".into(),
            "所属分局".into(),
            "总分".into(),
        ];
        head.extend(groups.iter().map(|(g, _)| group_label(lang, g)));
        head.extend(indicators.iter().map(|i| indicator_label(lang, i)));
        head.extend(["名次".into(), "名次区间".into(), "考评结果".into()]);
        for (c, h) in head.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)?;
        }
        for (r, u) in run.units.iter().enumerate() {
            let row = r as u32 + 1;
            let mut c: u16 = 0;
            ws.write_number(row, c, row as f64)?;
            c += 1;
            ws.write_string(row, c, names.name(&u.unit))?;
            c += 1;
            ws.write_string(row, c, names.county(&u.unit))?;
            c += 1;
            ws.write_number_with_format(row, c, u.score, &two)?;
            c += 1;
            for (g, _) in &groups {
                match u.groups.iter().find(|x| &x.group == g) {
                    Some(x) => ws.write_number_with_format(row, c, x.subtotal, &two)?,
                    None => ws.write_string(row, c, "")?,
                };
                c += 1;
            }
            for id in &indicators {
                // The raw value as reported; a missing one is left blank (its treatment
                // is on the detail sheet).
                match u
                    .indicators
                    .iter()
                    .find(|x| &x.indicator == id)
                    .and_then(|x| x.raw)
                {
                    Some(v) => ws.write_number(row, c, v)?,
                    None => ws.write_string(row, c, "")?,
                };
                c += 1;
            }
            ws.write_number(row, c, f64::from(u.rank))?;
            c += 1;
            ws.write_string(row, c, interval_text(u))?;
            c += 1;
            ws.write_string(row, c, outcomes_text(lang, u))?;
        }
        ws.set_freeze_panes(1, 2)?;
        ws.set_column_width(1, 18.0)?;
        ws.set_column_width(2, 14.0)?;
        ws.set_column_width((head.len() - 1) as u16, 60.0)?;
    }

    // 指标明细
    {
        let ws = wb.add_worksheet();
        ws.set_name(SHEETS[1])?;
        let head = [
            "单位",
            "指标",
            "指标代码",
            "类别",
            "来源",
            "原始值",
            "标准误",
            "分子",
            "分母",
            "标准化值",
            "权重",
            "实际权重",
            "得分贡献",
            "缺失处理",
            "明细",
        ];
        for (c, h) in head.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        let mut row: u32 = 1;
        for u in &run.units {
            for i in &u.indicators {
                ws.write_string(row, 0, names.name(&u.unit))?;
                ws.write_string(row, 1, indicator_label(lang, &i.indicator))?;
                ws.write_string(row, 2, &i.indicator)?;
                ws.write_string(row, 3, group_label(lang, &i.group))?;
                ws.write_string(row, 4, &i.source)?;
                for (c, v) in [
                    (5u16, i.raw),
                    (6, i.se),
                    (7, i.numerator),
                    (8, i.denominator),
                ] {
                    if let Some(v) = v {
                        ws.write_number(row, c, v)?;
                    }
                }
                if let Some(n) = i.normalised {
                    ws.write_number_with_format(row, 9, n, &four)?;
                }
                ws.write_number_with_format(row, 10, i.weight, &four)?;
                ws.write_number_with_format(row, 11, i.applied_weight, &four)?;
                ws.write_number_with_format(row, 12, i.contribution, &four)?;
                if let Some(m) = &i.missing {
                    ws.write_string(row, 13, super::view::missing_words(lang, m))?;
                }
                ws.write_string(row, 14, i.drill_down.join(" "))?;
                row += 1;
            }
        }
        ws.set_freeze_panes(1, 1)?;
        ws.set_column_width(0, 18.0)?;
        ws.set_column_width(1, 16.0)?;
    }

    // 运行信息
    {
        let ws = wb.add_worksheet();
        ws.set_name(SHEETS[2])?;
        ws.write_string_with_format(0, 0, "项目", &bold)?;
        ws.write_string_with_format(0, 1, "内容", &bold)?;
        let rows: Vec<(&str, String)> = vec![
            ("运行编号", info.run_id.to_string()),
            ("考评周期", info.period.to_owned()),
            ("方案", info.scheme_id.to_owned()),
            ("方案版本", info.scheme_version.to_owned()),
            ("方案哈希", info.scheme_hash.to_owned()),
            ("输入哈希", info.input_hash.to_owned()),
            ("结果哈希", info.result_hash.to_owned()),
            ("运行时间", info.created_at.clone()),
            ("运行人", info.created_by.to_owned()),
            (
                "上级运行",
                info.parent.map(|p| p.to_string()).unwrap_or_default(),
            ),
            ("重新运行原因", info.reason.unwrap_or("").to_owned()),
            ("参评单位数", run.ranked.to_string()),
            ("未参评单位数", run.excluded.len().to_string()),
        ];
        for (r, (k, v)) in rows.iter().enumerate() {
            ws.write_string(r as u32 + 1, 0, *k)?;
            ws.write_string(r as u32 + 1, 1, v)?;
        }
        ws.set_column_width(0, 16.0)?;
        ws.set_column_width(1, 70.0)?;
    }
    wb.save_to_buffer()
}
