//! Charts as self-contained SVG: trend lines and stacked colour bars.

use std::fmt::Write as _;

/// One line of a trend chart.
#[derive(Debug)]
pub(crate) struct Series<'a> {
    /// Legend text.
    pub(crate) name: &'a str,
    /// Stroke colour.
    pub(crate) color: &'a str,
    /// `stroke-dasharray` ("" for solid).
    pub(crate) dash: &'a str,
    /// The values; `None` leaves a gap.
    pub(crate) values: &'a [Option<f64>],
}

const W: f64 = 640.0;
const FONT: &str = "font-family=\"Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, \
                    Microsoft YaHei, PingFang SC, sans-serif\"";

/// Escapes text for XML and HTML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document's opening: its size, font, and `title` drawn at `title_x`.
fn svg_open(title: &str, h: f64, title_x: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" \
         height=\"{h}\" role=\"img\" {FONT} font-size=\"12\"><title>{t}</title>\
         <text x=\"{title_x}\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    )
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `v` (and 1 at least).
fn nice_ceiling(v: f64) -> f64 {
    if v.is_nan() || v <= 1.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().map(|m| m * p).find(|c| *c >= v).unwrap_or(v)
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// A line chart of `series` over `x_labels` with a legend, a y axis from 0,
/// and the first, middle and last x labels.
pub(crate) fn line_chart(title: &str, x_labels: &[String], series: &[Series<'_>]) -> String {
    let (h, left, right, top, bottom) = (240.0, 52.0, 16.0, 44.0, 28.0);
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(x_labels.len()).max(1);
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.max(*b));
    let ymax = nice_ceiling(max);
    let x = |i: usize| {
        if n == 1 {
            (left + W - right) / 2.0
        } else {
            left + (W - left - right) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / ymax);
    let mut s = svg_open(title, h, left);
    for frac in [0.0, 0.5, 1.0] {
        let v = ymax * frac;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#555\">{label}</text>",
            x2 = W - right,
            yy = y(v),
            lx = left - 6.0,
            ty = y(v) + 4.0,
            label = number(v)
        );
    }
    let mut picks = vec![0, n / 2, n - 1];
    picks.dedup();
    for i in picks {
        if let Some(label) = x_labels.get(i) {
            let anchor = if i == 0 {
                "start"
            } else if i == n - 1 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#555\">{}</text>",
                x(i),
                h - 8.0,
                escape(label)
            );
        }
    }
    let mut lx = left;
    for se in series {
        let _ = write!(
            s,
            "<line x1=\"{lx}\" x2=\"{x2}\" y1=\"32\" y2=\"32\" stroke=\"{c}\" stroke-width=\"2\" \
             stroke-dasharray=\"{d}\"/><text x=\"{tx}\" y=\"36\">{name}</text>",
            x2 = lx + 20.0,
            c = se.color,
            d = se.dash,
            tx = lx + 24.0,
            name = escape(se.name)
        );
        lx += 24.0 + 14.0 * se.name.chars().count() as f64 * 0.75 + 24.0;
        // One polyline per run of values without a gap.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, s: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" \
                     stroke-dasharray=\"{}\" points=\"{}\"/>",
                    se.color,
                    se.dash,
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in se.values.iter().enumerate() {
            match v {
                Some(v) => {
                    run.push(format!("{:.1},{:.1}", x(i), y(*v)));
                    if n <= 40 {
                        let _ = write!(
                            s,
                            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
                            x(i),
                            y(*v),
                            se.color
                        );
                    }
                }
                None => flush(&mut run, &mut s),
            }
        }
        flush(&mut run, &mut s);
    }
    s.push_str("</svg>");
    s
}

/// The four colours, red to blue.
pub(crate) const COLOURS: [&str; 4] = ["#d9342b", "#f28c28", "#f2c230", "#2f7ed8"];

/// Horizontal bars, one per row, each split into red, orange, yellow and blue.
pub(crate) fn stacked_bars(title: &str, rows: &[(String, [f64; 4])]) -> String {
    let (left, right, top, row_h) = (120.0, 56.0, 28.0, 18.0);
    let h = top + row_h * rows.len().max(1) as f64 + 8.0;
    let max = rows.iter().map(|(_, n)| n.iter().sum::<f64>()).fold(1.0f64, f64::max);
    let mut s = svg_open(title, h, 0.0);
    for (i, (label, counts)) in rows.iter().enumerate() {
        let yy = top + row_h * i as f64;
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{l}</text>",
            lx = left - 6.0,
            ty = yy + 12.0,
            l = escape(label)
        );
        let mut x = left;
        for (n, colour) in counts.iter().zip(COLOURS) {
            let w = (W - left - right) * n / max;
            if w > 0.0 {
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{yy}\" width=\"{w:.1}\" height=\"{bh}\" \
                     fill=\"{colour}\"/>",
                    bh = row_h - 4.0
                );
            }
            x += w;
        }
        let _ = write!(
            s,
            "<text x=\"{tx:.1}\" y=\"{ty}\" fill=\"#555\">{total}</text>",
            tx = x + 4.0,
            ty = yy + 12.0,
            total = number(counts.iter().sum())
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_and_escape_their_text() {
        let v = [Some(1.0), None, Some(3.0), Some(2.0)];
        let svg = line_chart(
            "a <b>",
            &["d1".into(), "d2".into(), "d3".into(), "d4".into()],
            &[Series { name: "x&y", color: "#000", dash: "", values: &v }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("x&amp;y"));
        // The gap splits the line: one polyline for the last two points only.
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 3);
        let bars = stacked_bars("t", &[("440300001000".into(), [1.0, 0.0, 2.0, 7.0])]);
        assert_eq!(bars.matches("<rect").count(), 3);
        assert!(bars.contains(">10</text>"));
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }
}
