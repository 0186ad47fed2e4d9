//! Report periods: `2026-03-01`, `2026-W09`, `2026-03`, `2026-Q1`, `2026`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::error::Error;

/// The kind of a period, as the KPI views' `period_kind` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
}

impl Kind {
    /// `day`, `week`, `month`, `quarter` or `year`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Day => "day",
            Kind::Week => "week",
            Kind::Month => "month",
            Kind::Quarter => "quarter",
            Kind::Year => "year",
        }
    }

    /// The finer kind a trend chart of this period is drawn in.
    pub fn finer(self) -> Kind {
        match self {
            Kind::Day | Kind::Week | Kind::Month => Kind::Day,
            Kind::Quarter => Kind::Week,
            Kind::Year => Kind::Month,
        }
    }
}

/// One period in the bureau's calendar (China Standard Time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Its kind.
    pub kind: Kind,
    /// Its first day.
    pub start: NaiveDate,
}

impl Period {
    /// The period of `kind` that contains `day`.
    pub fn containing(kind: Kind, day: NaiveDate) -> Period {
        let start = match kind {
            Kind::Day => day,
            Kind::Week => day - Duration::days(day.weekday().num_days_from_monday().into()),
            Kind::Month => first(day.year(), day.month()),
            Kind::Quarter => first(day.year(), (day.month() - 1) / 3 * 3 + 1),
            Kind::Year => first(day.year(), 1),
        };
        Period { kind, start }
    }

    /// The day after its last day.
    pub fn end(self) -> NaiveDate {
        match self.kind {
            Kind::Day => self.start + Duration::days(1),
            Kind::Week => self.start + Duration::days(7),
            Kind::Month => add_months(self.start, 1),
            Kind::Quarter => add_months(self.start, 3),
            Kind::Year => add_months(self.start, 12),
        }
    }

    /// The period just before this one.
    pub fn previous(self) -> Period {
        Period::containing(self.kind, self.start - Duration::days(1))
    }

    /// The same period a year before (for weeks: 52 weeks before, as the
    /// `kpi_accidents` view compares them).
    pub fn year_before(self) -> Period {
        match self.kind {
            Kind::Week => Period { kind: Kind::Week, start: self.start - Duration::days(364) },
            Kind::Day => {
                let day = self.start.with_year(self.start.year() - 1).unwrap_or_else(|| {
                    // 29 February: the 28th of the year before.
                    self.start - Duration::days(366)
                });
                Period { kind: Kind::Day, start: day }
            }
            _ => Period { kind: self.kind, start: add_months(self.start, -12) },
        }
    }

    /// The three periods a report compares: this one, the previous one, and
    /// the same period a year before.
    pub fn compared(self) -> [Period; 3] {
        [self, self.previous(), self.year_before()]
    }

    /// The periods of `kind` that overlap this one, in order.
    pub fn split(self, kind: Kind) -> Vec<Period> {
        let mut out = Vec::new();
        let mut p = Period::containing(kind, self.start);
        while p.start < self.end() {
            out.push(p);
            p = Period::containing(kind, p.end());
        }
        out
    }
}

fn first(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let m = d.year() * 12 + d.month0() as i32 + months;
    first(m.div_euclid(12), m.rem_euclid(12) as u32 + 1)
}

impl fmt::Display for Period {
    /// The label the KPI views use in their `period` column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.start;
        match self.kind {
            Kind::Day => write!(f, "{}", d.format("%Y-%m-%d")),
            Kind::Week => write!(f, "{}", d.format("%G-W%V")),
            Kind::Month => write!(f, "{}", d.format("%Y-%m")),
            Kind::Quarter => write!(f, "{}-Q{}", d.year(), d.month0() / 3 + 1),
            Kind::Year => write!(f, "{}", d.year()),
        }
    }
}

impl FromStr for Period {
    type Err = Error;

    fn from_str(s: &str) -> Result<Period, Error> {
        let bad = || Error::Period { given: s.to_string() };
        let s = s.trim();
        let year = |y: &str| -> Result<i32, Error> {
            if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            y.parse::<i32>().map_err(|_| bad())
        };
        let (y, rest) = s.split_at_checked(4).ok_or_else(bad)?;
        let y = year(y)?;
        if rest.is_empty() {
            return Ok(Period { kind: Kind::Year, start: first(y, 1) });
        }
        let rest = rest.strip_prefix('-').ok_or_else(bad)?;
        if let Some(q) = rest.strip_prefix('Q') {
            let q: u32 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) || rest.len() != 2 {
                return Err(bad());
            }
            return Ok(Period { kind: Kind::Quarter, start: first(y, (q - 1) * 3 + 1) });
        }
        if let Some(w) = rest.strip_prefix('W') {
            let w: u32 = w.parse().map_err(|_| bad())?;
            let start = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).ok_or_else(bad)?;
            return Ok(Period { kind: Kind::Week, start });
        }
        if rest.len() == 2 {
            let m: u32 = rest.parse().map_err(|_| bad())?;
            let start = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
            return Ok(Period { kind: Kind::Month, start });
        }
        let start = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
        Ok(Period { kind: Kind::Day, start })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    #[test]
    fn labels_round_trip_and_neighbours_are_calendar_periods() {
        for s in ["2026-03-01", "2026-W09", "2026-03", "2026-Q1", "2026", "2020-W53"] {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("2026-Q1").previous().to_string(), "2025-Q4");
        assert_eq!(p("2026-Q1").year_before().to_string(), "2025-Q1");
        assert_eq!(p("2026-Q1").end().to_string(), "2026-04-01");
        assert_eq!(p("2026-01").previous().to_string(), "2025-12");
        assert_eq!(p("2026-W01").previous().to_string(), "2025-W52");
        assert_eq!(p("2026-W09").year_before().to_string(), "2025-W09");
        assert_eq!(p("2026-W09").start.to_string(), "2026-02-23");
        assert_eq!(p("2024-02-29").year_before().to_string(), "2023-02-28");
        assert_eq!(p("2026").previous().to_string(), "2025");
        let weeks: Vec<String> =
            p("2026-Q1").split(Kind::Week).iter().map(|w| w.to_string()).collect();
        assert_eq!(weeks.first().map(String::as_str), Some("2026-W01"));
        assert_eq!(weeks.len(), 14, "{weeks:?}");
        assert_eq!(p("2026-02").split(Kind::Day).len(), 28);
    }

    #[test]
    fn bad_labels_are_refused_with_the_accepted_forms() {
        for s in
            ["", "26-Q1", "2026-Q5", "2026-Q", "2026-13", "2026-W54", "2026/03", "2026-02-30", "Q1"]
        {
            let e = s.parse::<Period>().unwrap_err().to_string();
            assert!(e.contains("2026-Q1") && e.contains(&format!("'{s}'")), "{s}: {e}");
        }
    }
}
