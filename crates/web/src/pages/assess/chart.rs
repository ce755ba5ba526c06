//! The report's chart: one row per ranked unit, a bar of its score and, on a second axis,
//! its rank interval on the ranking the rules read with a dot at its rank. Plain SVG with
//! presentation attributes only (the content security policy allows no inline styles);
//! pure, so the printed report is a function of the run.

use minyi_assess::RunResult;

use super::view::{Names, pts};
use crate::html::esc;
use crate::i18n::{Lang, t};

const ROW: f64 = 12.0;
const TOP: f64 = 30.0;
const NAME_W: f64 = 150.0;
const BAR_W: f64 = 260.0;
const GAP: f64 = 50.0;
const RANK_W: f64 = 240.0;

/// Scores with rank intervals as an SVG element.
pub fn scores_with_intervals(lang: Lang, run: &RunResult, names: &Names) -> String {
    let n = run.units.len();
    let height = TOP + ROW * n as f64 + 10.0;
    let width = NAME_W + BAR_W + GAP + RANK_W + 20.0;
    // Scores are points out of 100, but conditions may push one below 0: the axis runs
    // from min(0, lowest) to max(100, highest) so every bar fits.
    let lo = run.units.iter().map(|u| u.score).fold(0.0_f64, f64::min);
    let hi = run.units.iter().map(|u| u.score).fold(100.0_f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let x_score = |v: f64| NAME_W + (v - lo) / span * BAR_W;
    let ranked = run
        .units
        .iter()
        .filter_map(|u| u.basis.as_ref().map(|b| b.ranked))
        .max()
        .unwrap_or(n as u32)
        .max(1);
    let rank_x0 = NAME_W + BAR_W + GAP;
    let x_rank = |r: u32| {
        if ranked <= 1 {
            rank_x0
        } else {
            rank_x0 + f64::from(r - 1) / f64::from(ranked - 1) * RANK_W
        }
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"assess-chart\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-labelledby=\"assess-chart-title\">\
         <title id=\"assess-chart-title\">{}</title>\
         <text x=\"{NAME_W}\" y=\"12\" font-size=\"10\">{}</text>\
         <text x=\"{rank_x0}\" y=\"12\" font-size=\"10\">{}</text>\
         <text x=\"{rank_x0}\" y=\"24\" font-size=\"8\">1</text>\
         <text x=\"{:.1}\" y=\"24\" font-size=\"8\" text-anchor=\"end\">{ranked}</text>",
        esc(t(lang, "assess.chart_title")),
        esc(t(lang, "assess.chart_scores")),
        esc(t(lang, "assess.chart_intervals")),
        rank_x0 + RANK_W,
    );
    for (i, u) in run.units.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let mid = y + ROW / 2.0;
        let x0 = x_score(lo.max(0.0).min(hi));
        let x1 = x_score(u.score);
        let (bx, bw) = if x1 >= x0 {
            (x0, x1 - x0)
        } else {
            (x1, x0 - x1)
        };
        s.push_str(&format!(
            "<g data-unit=\"{code}\"><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"8\" text-anchor=\"end\">{} {}</text>\
             <rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#4a6fa5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"7\">{}</text>",
            NAME_W - 4.0,
            mid + 3.0,
            u.rank,
            esc(names.name(&u.unit)),
            y + 2.0,
            ROW - 4.0,
            bx + bw + 2.0,
            mid + 2.5,
            pts(u.score),
            code = esc(&u.unit),
        ));
        if let Some(x) = &u.uncertainty {
            s.push_str(&format!(
                "<line x1=\"{:.1}\" y1=\"{mid:.1}\" x2=\"{:.1}\" y2=\"{mid:.1}\" stroke=\"#888\" stroke-width=\"2\"/>",
                x_rank(x.rank_low.clamp(1, ranked)),
                x_rank(x.rank_high.clamp(1, ranked)),
            ));
        }
        if let Some(b) = &u.basis {
            s.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{mid:.1}\" r=\"2.5\" fill=\"#b22\"/>",
                x_rank(b.rank.clamp(1, ranked))
            ));
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::assess::view::tests::small_run;

    /// The chart is well-formed XML (tags balance, one root) with one row per ranked unit,
    /// and a unit's rank interval line when the run simulated one.
    #[test]
    fn chart_is_well_formed_with_a_row_per_unit() {
        use quick_xml::events::Event;
        let run = small_run();
        let svg = scores_with_intervals(Lang::ZhCn, &run, &Names::default());
        let mut reader = quick_xml::Reader::from_str(&svg);
        let (mut depth, mut roots) = (0i64, 0);
        loop {
            match reader.read_event() {
                Ok(Event::Start(_)) => {
                    roots += i32::from(depth == 0);
                    depth += 1;
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}\n{svg}"),
            }
            assert!(depth >= 0);
        }
        assert_eq!((depth, roots), (0, 1));
        assert_eq!(svg.matches("<g data-unit=").count(), run.units.len());
        assert!(run.units.iter().all(|u| u.uncertainty.is_some()));
        assert_eq!(svg.matches("<line ").count(), run.units.len());
    }
}
