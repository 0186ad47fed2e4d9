//! The five record shapes, built as [`Fields`] so that good records and the
//! templates of bad records share one definition.

use crate::city::{Enterprise, Point};
use crate::json::Fields;

/// Header fields every record (except most readings) starts with.
fn header(f: &mut Fields, event_id: &str, t: i64) {
    f.str("event_id", event_id).ts("event_time", t).int("schema_version", 1);
}

/// An `enterprise` version.
pub(crate) fn enterprise(e: &Enterprise, event_id: &str, t: i64, epoch: bool) -> Fields {
    let mut f = Fields::new(epoch);
    header(&mut f, event_id, t);
    f.str("uscc", &e.uscc)
        .str("region_code", &e.region_code)
        .str("name", &e.name)
        .str("industry", e.industry.name())
        .int("major_hazard_level", i64::from(e.major_hazard_level))
        .int("major_hazard_units", i64::from(e.major_hazard_units))
        .int("hazardous_processes", i64::from(e.hazardous_processes))
        .int("standardization_grade", i64::from(e.standardization_grade))
        .bool("own_rescue_team", e.own_rescue_team)
        .int("employees", i64::from(e.employees))
        .str("status", e.status.name());
    if let Some((lon, lat)) = e.lon_lat {
        f.num("lon", lon, 6).num("lat", lat, 6);
    }
    if let Some(c) = e.official_color {
        f.str("official_color", c);
    }
    f
}

/// A `monitoring` registry record (`record_type: "point"`).
pub(crate) fn point(p: &Point, uscc: &str, event_id: &str, t: i64, epoch: bool) -> Fields {
    let mut f = Fields::new(epoch);
    header(&mut f, event_id, t);
    f.str("uscc", uscc)
        .str("record_type", "point")
        .str("point_id", &p.id)
        .str("kind", p.kind.name())
        .str("unit", p.kind.unit());
    if let Some(l) = p.unit_level {
        f.int("unit_level", i64::from(l));
    }
    let d = p.set_point_decimals();
    for (key, v) in
        [("low_low", p.low_low), ("low", p.low), ("high", p.high), ("high_high", p.high_high)]
    {
        if let Some(v) = v {
            f.num(key, v, d);
        }
    }
    f.int("expected_period_s", i64::from(p.period_s))
        .bool("flatline_applicable", p.kind.flatline_applicable());
    f
}

/// A reading's value and quality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sample {
    /// A good value, written with the given decimals; `explicit` writes `"quality":"good"`.
    Good { value: f64, decimals: usize, explicit: bool },
    /// No value: `quality` `bad` or `comm_fail`.
    Missing { quality: &'static str },
}

/// A `monitoring` reading (`record_type: "reading"`).
pub(crate) fn reading(
    uscc: &str,
    point_id: &str,
    event_id: Option<&str>,
    t: i64,
    epoch: bool,
    sample: Sample,
) -> Fields {
    let mut f = Fields::new(epoch);
    if let Some(id) = event_id {
        f.str("event_id", id);
    }
    f.ts("event_time", t).str("uscc", uscc).str("record_type", "reading").str("point_id", point_id);
    match sample {
        Sample::Good { value, decimals, explicit } => {
            f.num("value", value, decimals);
            if explicit {
                f.str("quality", "good");
            }
        }
        Sample::Missing { quality } => {
            f.null("value").str("quality", quality);
        }
    }
    f
}

/// One version of a hazard.
#[derive(Debug, Clone)]
pub(crate) struct HazardVersion<'a> {
    pub(crate) hazard_id: &'a str,
    pub(crate) major: bool,
    pub(crate) found_by: &'static str,
    pub(crate) found_at: i64,
    pub(crate) deadline: Option<i64>,
    pub(crate) state: &'static str,
    pub(crate) description: Option<&'static str>,
}

/// A `hazard` version.
pub(crate) fn hazard(
    h: &HazardVersion<'_>,
    uscc: &str,
    event_id: &str,
    t: i64,
    epoch: bool,
) -> Fields {
    let mut f = Fields::new(epoch);
    header(&mut f, event_id, t);
    f.str("uscc", uscc)
        .str("hazard_id", h.hazard_id)
        .str("level", if h.major { "major" } else { "general" })
        .str("found_by", h.found_by)
        .ts("found_at", h.found_at);
    if let Some(d) = h.deadline {
        f.ts("deadline", d);
    }
    f.str("state", h.state);
    if let Some(d) = h.description {
        f.str("description", d);
    }
    f
}

/// The kind-specific part of an enforcement record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Enforcement {
    Inspection { violations: u8 },
    Order,
    Recheck { passed: bool },
    Penalty { fine_cny: f64 },
    Suspension { until: i64 },
}

/// An `enforcement` record; `agency` is an extra field the contract does not list.
pub(crate) fn enforcement(
    kind: Enforcement,
    case_id: &str,
    agency: &str,
    uscc: &str,
    event_id: &str,
    t: i64,
    epoch: bool,
) -> Fields {
    let mut f = Fields::new(epoch);
    header(&mut f, event_id, t);
    f.str("uscc", uscc).str("case_id", case_id);
    match kind {
        Enforcement::Inspection { violations } => {
            f.str("record_type", "inspection").int("violations", i64::from(violations));
        }
        Enforcement::Order => {
            f.str("record_type", "order");
        }
        Enforcement::Recheck { passed } => {
            f.str("record_type", "recheck").bool("recheck_passed", passed);
        }
        Enforcement::Penalty { fine_cny } => {
            f.str("record_type", "penalty").num("fine_cny", fine_cny, 2);
        }
        Enforcement::Suspension { until } => {
            f.str("record_type", "suspension").ts("suspended_until", until);
        }
    }
    f.str("agency", agency);
    f
}

/// One revision of a rescue incident.
#[derive(Debug, Clone)]
pub(crate) struct IncidentVersion<'a> {
    pub(crate) incident_id: &'a str,
    pub(crate) region_code: &'a str,
    pub(crate) uscc: Option<&'a str>,
    pub(crate) accident_type: &'static str,
    pub(crate) occurred_at: i64,
    pub(crate) reported_at: i64,
    pub(crate) deaths: u32,
    pub(crate) serious_injuries: u32,
    pub(crate) minor_injuries: u32,
    pub(crate) direct_loss_cny: f64,
    pub(crate) public_impact: bool,
    pub(crate) status: &'static str,
    pub(crate) revision: u32,
}

/// A `rescue` revision.
pub(crate) fn rescue(v: &IncidentVersion<'_>, event_id: &str, t: i64, epoch: bool) -> Fields {
    let mut f = Fields::new(epoch);
    header(&mut f, event_id, t);
    f.str("region_code", v.region_code);
    if let Some(u) = v.uscc {
        f.str("uscc", u);
    }
    f.str("incident_id", v.incident_id)
        .str("accident_type", v.accident_type)
        .ts("occurred_at", v.occurred_at)
        .ts("reported_at", v.reported_at)
        .int("deaths", i64::from(v.deaths))
        .int("serious_injuries", i64::from(v.serious_injuries))
        .int("minor_injuries", i64::from(v.minor_injuries))
        .num("direct_loss_cny", v.direct_loss_cny, 2)
        .bool("public_impact", v.public_impact)
        .str("status", v.status)
        .int("revision", i64::from(v.revision));
    f
}
