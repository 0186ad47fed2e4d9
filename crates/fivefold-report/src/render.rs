//! The report as HTML (inline SVG charts, one file) or Markdown (SVG charts beside it).

use std::fmt::Write as _;

use crate::catalog::{FAMILIES, Lang, Metric, Unit, colour, grade, texts};
use crate::figures::{AccidentRow, FamilyFigures, Figures, Scope};
use crate::svg::{COLOURS, Series, escape, line_chart, stacked_bars};

/// One chart of a report: a file name stem and its SVG.
#[derive(Debug)]
pub struct Chart {
    /// `kpi_hazards`, `towns`, ...
    pub name: String,
    /// The SVG document.
    pub svg: String,
}

/// Writes a value as its unit says; `—` for none.
fn show(v: Option<f64>, unit: Unit) -> String {
    let Some(v) = v else { return "—".to_string() };
    match unit {
        Unit::Count | Unit::Money => thousands(v.round() as i64),
        Unit::Rate => format!("{:.1}%", v * 100.0),
        Unit::Decimal => format!("{v:.1}"),
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The change against the year before: points for rates, else the difference
/// and (when the year before is not zero) the relative change.
fn change(cur: Option<f64>, before: Option<f64>, unit: Unit, lang: Lang) -> String {
    let (Some(c), Some(b)) = (cur, before) else { return "—".to_string() };
    let sign = |d: f64| if d > 0.0 { "+" } else { "" };
    match unit {
        Unit::Rate => {
            let d = (c - b) * 100.0;
            let pp = if lang == Lang::Zh { "个百分点" } else { " pp" };
            format!("{}{d:.1}{pp}", sign(d))
        }
        _ => {
            let d = c - b;
            let abs = match unit {
                Unit::Decimal => format!("{}{d:.1}", sign(d)),
                _ => format!("{}{}", sign(d), thousands(d.round() as i64)),
            };
            if b != 0.0 { format!("{abs} ({}{:.1}%)", sign(d), d / b * 100.0) } else { abs }
        }
    }
}

fn raw(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn scope_text(scope: &Scope, lang: Lang) -> String {
    match scope {
        Scope::All => texts::ALL.get(lang).to_string(),
        Scope::County(c) => format!("{} {c}", texts::COUNTY.get(lang)),
        Scope::Town(c) => format!("{} {c}", texts::TOWN.get(lang)),
    }
}

fn period_heads(f: &Figures, lang: Lang) -> [String; 3] {
    let [p, previous, year_before] = f.period.compared();
    [
        format!("{} {p}", texts::CURRENT.get(lang)),
        format!("{} {previous}", texts::PREVIOUS.get(lang)),
        format!("{} {year_before}", texts::YEAR_BEFORE.get(lang)),
    ]
}

fn trend_chart(ff: &FamilyFigures, f: &Figures, lang: Lang) -> Chart {
    let metric = ff.family.metrics.iter().find(|m| m.column == ff.family.trend);
    let label = metric.map_or(ff.family.trend, |m| m.label.get(lang));
    let names = f.period.compared().map(|p| p.to_string());
    let series = [("#1f4e79", ""), ("#8a8f98", "6 4"), ("#e67e22", "2 3")]
        .iter()
        .zip(&ff.trend)
        .zip(&names)
        .map(|(((color, dash), values), name)| Series { name, color, dash, values })
        .collect::<Vec<_>>();
    let title = format!("{label} {}", texts::TREND.get(lang));
    Chart { name: ff.family.view.to_string(), svg: line_chart(&title, &ff.trend_labels, &series) }
}

fn towns_chart(f: &Figures, lang: Lang) -> Option<Chart> {
    if f.towns.is_empty() {
        return None;
    }
    let rows: Vec<_> = f.towns.iter().take(30).cloned().collect();
    Some(Chart { name: "towns".into(), svg: stacked_bars(texts::TOWNS.get(lang), &rows) })
}

fn explanation(e: &crate::figures::TopEnterprise) -> String {
    let mut parts: Vec<String> = e.overrides.clone();
    parts.extend(e.contributions.iter().map(|(rule, p)| format!("{rule} {p:+.1}")));
    parts.join(", ")
}

fn accident_key(row: &AccidentRow, by_grade: bool, lang: Lang) -> String {
    if by_grade { grade(&row.key, lang) } else { row.key.clone() }
}

const CSS: &str = "body{font-family:'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei','Microsoft YaHei',\
'PingFang SC',sans-serif;margin:0;background:#f4f6f9;color:#1c2430}\
main{max-width:1320px;margin:0 auto;padding:24px}\
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}h3{font-size:14px}\
.meta{color:#566;margin:0 0 12px}.pick{margin:0 0 16px;font-size:13px}\
.pick input,.pick select,.pick button{font:inherit;padding:2px 6px}\
section{background:#fff;border-radius:8px;padding:16px 20px;margin:0 0 16px;\
box-shadow:0 1px 2px rgba(0,0,0,.08)}\
.cols{display:flex;}figure{margin:0}.cols{flex-wrap:wrap;gap:20px;align-items:flex-start}\
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #e4e8ee}\
th{background:#eef2f7;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}";

/// The report as one self-contained HTML page. With `form_action`, the page
/// starts with a form that asks the same URL for another period, scope or
/// language (the dashboard's report page).
pub fn html(
    f: &Figures,
    lang: Lang,
    lake_version: Option<u64>,
    form_action: Option<&str>,
) -> String {
    let mut s = String::new();
    let html_lang = if lang == Lang::Zh { "zh-CN" } else { "en" };
    let title = format!("{} {}", texts::TITLE.get(lang), f.period);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{CSS}</style></head><body><main>\
         <h1>{t}</h1><p class=\"meta\" id=\"meta\" data-period=\"{p}\" data-level=\"{level}\" \
         data-region=\"{region}\">{pl}: {p} ({start} – {last}) · {scope}",
        t = escape(&title),
        p = f.period,
        level = f.scope.level(),
        region = escape(f.scope.region_code()),
        pl = texts::PERIOD.get(lang),
        start = f.period.start,
        last = f.period.end().pred_opt().unwrap_or(f.period.end()),
        scope = escape(&scope_text(&f.scope, lang)),
    );
    if let Some(as_of) = &f.as_of {
        let _ = write!(s, " · {} {}", texts::AS_OF.get(lang), escape(as_of));
    }
    if let Some(v) = lake_version {
        let _ = write!(s, " · {} {v}", texts::VERSION.get(lang));
    }
    s.push_str("</p>");
    if let Some(action) = form_action {
        picker(&mut s, f, lang, action);
    }
    let heads = period_heads(f, lang);
    for ff in &f.families {
        let _ = write!(
            s,
            "<section id=\"{v}\"><h2>{t}</h2><div class=\"cols\"><table class=\"kpi\"><thead><tr>\
             <th>{i}</th><th>{h0}</th><th>{h1}</th><th>{h2}</th><th>{y}</th></tr></thead><tbody>",
            v = ff.family.view,
            t = ff.family.title.get(lang),
            i = texts::INDICATOR.get(lang),
            h0 = escape(&heads[0]),
            h1 = escape(&heads[1]),
            h2 = escape(&heads[2]),
            y = texts::YOY.get(lang),
        );
        for (metric, values) in ff.family.metrics.iter().zip(&ff.values) {
            let _ = write!(s, "<tr><td>{}</td>", metric.label.get(lang));
            for (v, p) in values.iter().zip(f.period.compared()) {
                let _ = write!(
                    s,
                    "<td class=\"n\" data-kpi=\"{}.{}\" data-period=\"{p}\" data-value=\"{}\">{}</td>",
                    ff.family.view,
                    metric.column,
                    raw(*v),
                    show(*v, metric.unit)
                );
            }
            let _ = write!(
                s,
                "<td class=\"n\">{}</td></tr>",
                escape(&change(values[0], values[2], metric.unit, lang))
            );
        }
        let _ = write!(s, "</tbody></table><figure>{}</figure>", trend_chart(ff, f, lang).svg);
        if ff.family.view == "kpi_accidents" {
            for (title, rows, by_grade) in
                [(texts::BY_TYPE, &f.by_type, false), (texts::BY_GRADE, &f.by_grade, true)]
            {
                if rows.is_empty() {
                    continue;
                }
                let _ = write!(
                    s,
                    "<div><h3>{}</h3><table><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
                     <th>{} {}</th><th>{} {}</th></tr></thead><tbody>",
                    title.get(lang),
                    if by_grade { texts::GRADE.get(lang) } else { texts::TYPE.get(lang) },
                    FAMILIES[2].metrics[0].label.get(lang),
                    FAMILIES[2].metrics[1].label.get(lang),
                    texts::YEAR_BEFORE.get(lang),
                    FAMILIES[2].metrics[0].label.get(lang),
                    texts::YEAR_BEFORE.get(lang),
                    FAMILIES[2].metrics[1].label.get(lang),
                );
                for r in rows.iter() {
                    let _ = write!(s, "<tr><td>{}</td>", escape(&accident_key(r, by_grade, lang)));
                    for v in r.figures {
                        let _ = write!(s, "<td class=\"n\">{}</td>", show(Some(v), Unit::Count));
                    }
                    s.push_str("</tr>");
                }
                s.push_str("</tbody></table></div>");
            }
        }
        s.push_str("</div></section>");
    }
    top_html(&mut s, f, lang);
    towns_html(&mut s, f, lang);
    s.push_str("</main></body></html>\n");
    s
}

fn picker(s: &mut String, f: &Figures, lang: Lang, action: &str) {
    let (town, county) = match &f.scope {
        Scope::Town(c) => (c.as_str(), ""),
        Scope::County(c) => ("", c.as_str()),
        Scope::All => ("", ""),
    };
    let selected = |l: Lang| if l == lang { " selected" } else { "" };
    let _ = write!(
        s,
        "<form class=\"pick\" method=\"get\" action=\"{a}\">\
         <label>{pl} <input name=\"period\" value=\"{p}\" size=\"10\" \
         placeholder=\"2026-Q1\"></label> \
         <label>{cl} <input name=\"county\" value=\"{county}\" size=\"12\"></label> \
         <label>{tl} <input name=\"town\" value=\"{town}\" size=\"12\"></label> \
         <select name=\"lang\"><option value=\"zh\"{zh}>中文</option>\
         <option value=\"en\"{en}>English</option></select> <button>OK</button></form>",
        a = escape(action),
        pl = texts::PERIOD.get(lang),
        p = f.period,
        cl = texts::COUNTY.get(lang),
        tl = texts::TOWN.get(lang),
        county = escape(county),
        town = escape(town),
        zh = selected(Lang::Zh),
        en = selected(Lang::En),
    );
}

fn colour_cell(c: &str, lang: Lang) -> String {
    let i = ["red", "orange", "yellow", "blue"].iter().position(|x| *x == c);
    let dot = i.map_or(String::new(), |i| {
        format!("<span class=\"dot\" style=\"background:{}\"></span>", COLOURS[i])
    });
    format!("{dot}{}", colour(c, lang))
}

fn top_html(s: &mut String, f: &Figures, lang: Lang) {
    let _ = write!(s, "<section id=\"top\"><h2>{}</h2>", texts::TOP.get(lang));
    if f.top.is_empty() {
        let _ = write!(s, "<p>{}</p></section>", texts::NONE.get(lang));
        return;
    }
    let _ = write!(
        s,
        "<table><thead><tr><th>{}</th><th>{}</th><th>USCC</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th></tr></thead><tbody>",
        texts::RANK.get(lang),
        texts::ENTERPRISE.get(lang),
        texts::REGION.get(lang),
        texts::COLOUR.get(lang),
        texts::RISK_POINTS.get(lang),
        texts::EXPLANATION.get(lang),
    );
    for (i, e) in f.top.iter().enumerate() {
        let _ = write!(
            s,
            "<tr data-uscc=\"{u}\"><td class=\"n\">{r}</td><td>{n}</td><td>{u}</td><td>{g}</td>\
             <td>{c}</td><td class=\"n\">{p:.1}</td><td>{x}</td></tr>",
            r = i + 1,
            n = escape(e.name.as_deref().unwrap_or("—")),
            u = escape(&e.uscc),
            g = escape(&e.region_code),
            c = colour_cell(&e.color, lang),
            p = e.risk_points,
            x = escape(&explanation(e)),
        );
    }
    s.push_str("</tbody></table></section>");
}

fn towns_html(s: &mut String, f: &Figures, lang: Lang) {
    let _ = write!(s, "<section id=\"towns\"><h2>{}</h2>", texts::TOWNS.get(lang));
    let Some(chart) = towns_chart(f, lang) else {
        let _ = write!(s, "<p>{}</p></section>", texts::NONE.get(lang));
        return;
    };
    let _ = write!(
        s,
        "<div class=\"cols\"><figure>{}</figure><table><thead><tr><th>{}</th>",
        chart.svg,
        texts::REGION.get(lang)
    );
    for c in ["red", "orange", "yellow", "blue"] {
        let _ = write!(s, "<th>{}</th>", colour_cell(c, lang));
    }
    s.push_str("</tr></thead><tbody>");
    for (code, n) in &f.towns {
        let _ = write!(s, "<tr data-town=\"{}\"><td>{}</td>", escape(code), escape(code));
        for v in n {
            let _ = write!(s, "<td class=\"n\">{}</td>", show(Some(*v), Unit::Count));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div></section>");
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, head: &[String], rows: &[Vec<String>]) {
    let line = |cells: &[String]| {
        format!("| {} |\n", cells.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "))
    };
    out.push_str(&line(head));
    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for r in rows {
        out.push_str(&line(r));
    }
    out.push('\n');
}

/// The report as Markdown, with its charts as SVG files named
/// `<chart_prefix><chart name>.svg` that the text links to.
pub fn markdown(f: &Figures, lang: Lang, chart_prefix: &str) -> (String, Vec<Chart>) {
    let mut s = String::new();
    let mut charts = Vec::new();
    let _ = writeln!(s, "# {} {}\n", texts::TITLE.get(lang), f.period);
    let _ = write!(
        s,
        "{}: {} ({} – {}) · {}",
        texts::PERIOD.get(lang),
        f.period,
        f.period.start,
        f.period.end().pred_opt().unwrap_or(f.period.end()),
        scope_text(&f.scope, lang)
    );
    if let Some(as_of) = &f.as_of {
        let _ = write!(s, " · {} {as_of}", texts::AS_OF.get(lang));
    }
    s.push_str("\n\n");
    let heads = period_heads(f, lang);
    for ff in &f.families {
        let _ = writeln!(s, "## {}\n", ff.family.title.get(lang));
        let head = [texts::INDICATOR.get(lang).to_string()]
            .into_iter()
            .chain(heads.iter().cloned())
            .chain([texts::YOY.get(lang).to_string()])
            .collect::<Vec<_>>();
        let rows: Vec<Vec<String>> = ff
            .family
            .metrics
            .iter()
            .zip(&ff.values)
            .map(|(m, v): (&Metric, &[Option<f64>; 3])| {
                let mut row = vec![m.label.get(lang).to_string()];
                row.extend(v.iter().map(|x| show(*x, m.unit)));
                row.push(change(v[0], v[2], m.unit, lang));
                row
            })
            .collect();
        md_table(&mut s, &head, &rows);
        let chart = trend_chart(ff, f, lang);
        let _ = writeln!(s, "![{}]({chart_prefix}{}.svg)\n", ff.family.title.get(lang), chart.name);
        charts.push(chart);
    }
    let _ = writeln!(s, "## {}\n", texts::TOP.get(lang));
    if f.top.is_empty() {
        let _ = writeln!(s, "{}\n", texts::NONE.get(lang));
    } else {
        let head = [texts::RANK, texts::ENTERPRISE, texts::REGION, texts::COLOUR]
            .map(|t| t.get(lang).to_string())
            .into_iter()
            .chain(["USCC".to_string(), texts::RISK_POINTS.get(lang).into()])
            .chain([texts::EXPLANATION.get(lang).to_string()])
            .collect::<Vec<_>>();
        let rows: Vec<Vec<String>> = f
            .top
            .iter()
            .enumerate()
            .map(|(i, e)| {
                vec![
                    (i + 1).to_string(),
                    e.name.clone().unwrap_or_else(|| "—".into()),
                    e.region_code.clone(),
                    colour(&e.color, lang).to_string(),
                    e.uscc.clone(),
                    format!("{:.1}", e.risk_points),
                    explanation(e),
                ]
            })
            .collect();
        md_table(&mut s, &head, &rows);
    }
    let _ = writeln!(s, "## {}\n", texts::TOWNS.get(lang));
    match towns_chart(f, lang) {
        None => {
            let _ = writeln!(s, "{}\n", texts::NONE.get(lang));
        }
        Some(chart) => {
            let head = [texts::REGION.get(lang).to_string()]
                .into_iter()
                .chain(["red", "orange", "yellow", "blue"].map(|c| colour(c, lang).to_string()))
                .collect::<Vec<_>>();
            let rows: Vec<Vec<String>> = f
                .towns
                .iter()
                .map(|(code, n)| {
                    std::iter::once(code.clone())
                        .chain(n.iter().map(|v| show(Some(*v), Unit::Count)))
                        .collect()
                })
                .collect();
            md_table(&mut s, &head, &rows);
            let _ =
                writeln!(s, "![{}]({chart_prefix}{}.svg)\n", texts::TOWNS.get(lang), chart.name);
            charts.push(chart);
        }
    }
    (s, charts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_changes_are_written_for_people() {
        assert_eq!(show(Some(1234567.0), Unit::Count), "1,234,567");
        assert_eq!(show(Some(0.5), Unit::Rate), "50.0%");
        assert_eq!(show(None, Unit::Count), "—");
        assert_eq!(change(Some(1.0), Some(2.0), Unit::Count, Lang::En), "-1 (-50.0%)");
        assert_eq!(change(Some(3.0), Some(0.0), Unit::Count, Lang::En), "+3");
        assert_eq!(change(Some(0.75), Some(0.5), Unit::Rate, Lang::Zh), "+25.0个百分点");
        assert_eq!(change(Some(1.0), None, Unit::Count, Lang::En), "—");
        assert_eq!(thousands(-1000), "-1,000");
    }
}
