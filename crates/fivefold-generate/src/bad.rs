//! Deliberately malformed records, one [`BadClass`] each.
//!
//! Every bad record starts as a valid record of its topic (a real enterprise of
//! the city, the current event time) and is then broken in exactly one way, so
//! that a validator that reports the first problem and one that reports all of
//! them agree on the class.

use fivefold_model::Topic;

use crate::city::{City, Point, PointKind};
use crate::generator::{CITY_AGENCY, EPOCH_SHARE, topic_prefix};
use crate::json::{Fields, quoted};
use crate::records::{self, Enforcement, HazardVersion, IncidentVersion, Sample};
use crate::rng::Rng;
use crate::{BadClass, GenRecord};

// A too-large record is too large for the validator: one limit for both.
pub(crate) use fivefold_model::decode::MAX_RECORD_BYTES;
use fivefold_model::time::MS_PER_DAY as DAY;
/// One bad record in this many is [`BadClass::TooLarge`]; the first is the 50th.
const TOO_LARGE_EVERY: u64 = 500;
const TOO_LARGE_AT: u64 = 49;

/// The classes other than [`BadClass::TooLarge`], taken round-robin.
const ROUND_ROBIN: [BadClass; 9] = [
    BadClass::NotJson,
    BadClass::NotObject,
    BadClass::MissingField,
    BadClass::WrongType,
    BadClass::BadEnum,
    BadClass::BadTimestamp,
    BadClass::BadUscc,
    BadClass::OutOfRange,
    BadClass::NewerSchemaVersion,
];

/// Topic mix of bad records: like the traffic, but every topic gets its share.
const TOPIC_MIX: [(Topic, u32); 5] = [
    (Topic::Enterprise, 75),
    (Topic::Hazard, 75),
    (Topic::Enforcement, 75),
    (Topic::Monitoring, 700),
    (Topic::Rescue, 75),
];

const BAD_TIMESTAMPS: [&str; 5] = [
    "2026-13-45 25:00",
    "yesterday",
    "2026-03-01 08:15",
    "2026-03-01T08:15:00",
    "03/01/2026 08:15:00",
];

/// The valid record a bad one is made from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Template {
    Enterprise,
    Hazard,
    Enforcement(Enforcement),
    Point,
    Reading,
    Rescue { public: bool },
}

/// Makes the bad records; has its own random stream so that the good records do
/// not depend on `bad_ratio`.
#[derive(Debug, Clone)]
pub(crate) struct BadMaker {
    seed: u64,
    ratio: f64,
    rng: Rng,
    made: u64,
    round_robin: usize,
}

impl BadMaker {
    pub(crate) fn new(seed: u64, ratio: f64, rng: Rng) -> BadMaker {
        BadMaker { seed, ratio, rng, made: 0, round_robin: 0 }
    }

    /// Whether a bad record follows the good one just made.
    pub(crate) fn roll(&mut self) -> bool {
        self.ratio > 0.0 && self.rng.chance(self.ratio)
    }

    /// The next bad record, emitted at `t`.
    pub(crate) fn make(&mut self, t: i64, city: &City) -> GenRecord {
        let n = self.made;
        self.made += 1;
        let class = if n % TOO_LARGE_EVERY == TOO_LARGE_AT {
            BadClass::TooLarge
        } else {
            let c = ROUND_ROBIN[self.round_robin % ROUND_ROBIN.len()];
            self.round_robin += 1;
            c
        };
        let topic = self.rng.table(&TOPIC_MIX);
        let rng = &mut self.rng;
        let template = match topic {
            Topic::Enterprise => Template::Enterprise,
            Topic::Hazard => Template::Hazard,
            Topic::Enforcement => {
                let kind = match (class, rng.weighted(&[50, 15, 15, 10, 10])) {
                    (BadClass::OutOfRange, k) if k % 2 == 0 => {
                        Enforcement::Inspection { violations: rng.range(0, 5) as u8 }
                    }
                    (BadClass::OutOfRange, _) | (_, 3) => {
                        Enforcement::Penalty { fine_cny: 20_000.0 }
                    }
                    (_, 0) => Enforcement::Inspection { violations: rng.range(0, 5) as u8 },
                    (_, 1) => Enforcement::Order,
                    (_, 2) => Enforcement::Recheck { passed: rng.chance(0.8) },
                    _ => Enforcement::Suspension { until: t + rng.range(7, 60) * DAY },
                };
                Template::Enforcement(kind)
            }
            Topic::Monitoring => {
                if class == BadClass::OutOfRange || rng.chance(0.2) {
                    Template::Point
                } else {
                    Template::Reading
                }
            }
            Topic::Rescue => Template::Rescue { public: rng.chance(0.3) },
        };
        let event_id = format!("{}-{}-b{}", topic_prefix(topic), self.seed, n + 1);
        let epoch = rng.chance(EPOCH_SHARE);

        // The enterprise (and point) the record is about.
        let point =
            if matches!(template, Template::Point | Template::Reading) && !city.points.is_empty() {
                Some(city.points[rng.below(city.points.len() as u64) as usize].clone())
            } else {
                None
            };
        let ent_idx = match &point {
            Some(p) => p.ent as usize,
            None => rng.below(city.enterprises.len() as u64) as usize,
        };
        let ent = &city.enterprises[ent_idx];
        let point = point.unwrap_or_else(|| fallback_point(ent_idx as u32, &ent.uscc));
        let mut key = ent.uscc.clone();

        let mut f = match template {
            Template::Enterprise => records::enterprise(ent, &event_id, t, epoch),
            Template::Hazard => {
                let found_at = t - rng.range(0, 10 * DAY);
                let id = format!("HZ-{}-b{}", self.seed, n + 1);
                let v = HazardVersion {
                    hazard_id: &id,
                    major: false,
                    found_by: rng.pick(&["self", "government", "third_party"]),
                    found_at,
                    deadline: Some(found_at + 14 * DAY),
                    state: rng.pick(&["open", "rectifying"]),
                    description: Some("消防通道被占用"),
                };
                records::hazard(&v, &ent.uscc, &event_id, t, epoch)
            }
            Template::Enforcement(kind) => {
                let case_id = format!("CASE-{}-b{}", self.seed, n + 1);
                records::enforcement(kind, &case_id, CITY_AGENCY, &ent.uscc, &event_id, t, epoch)
            }
            Template::Point => records::point(&point, &ent.uscc, &event_id, t, epoch),
            Template::Reading => {
                let sample =
                    Sample::Good { value: point.nominal, decimals: point.decimals, explicit: true };
                let id = rng.chance(0.3).then_some(event_id.as_str());
                records::reading(&ent.uscc, &point.id, id, t, epoch, sample)
            }
            Template::Rescue { public } => {
                if public {
                    key = ent.region_code.clone();
                }
                let id = format!("INC-{}-b{}", self.seed, n + 1);
                let v = IncidentVersion {
                    incident_id: &id,
                    region_code: &ent.region_code,
                    uscc: (!public).then_some(ent.uscc.as_str()),
                    accident_type: "08",
                    occurred_at: t - 20 * 60_000,
                    reported_at: t - 5 * 60_000,
                    deaths: 0,
                    serious_injuries: 0,
                    minor_injuries: rng.range(0, 3) as u32,
                    direct_loss_cny: 50_000.0,
                    public_impact: public,
                    status: "reported",
                    revision: 0,
                };
                records::rescue(&v, &event_id, t, epoch)
            }
        };

        let payload = match class {
            BadClass::NotJson => not_json(rng, &f, &event_id),
            BadClass::NotObject => match rng.below(6) {
                0 => b"[1,2,3]".to_vec(),
                1 => b"\"text\"".to_vec(),
                2 => b"42".to_vec(),
                3 => b"null".to_vec(),
                4 => b"true".to_vec(),
                _ => format!("[{}]", f.to_json()).into_bytes(),
            },
            BadClass::MissingField => {
                let keys: &[&str] = match template {
                    Template::Enterprise => &[
                        "uscc",
                        "region_code",
                        "name",
                        "industry",
                        "event_time",
                        "employees",
                        "status",
                        "event_id",
                    ],
                    Template::Hazard => {
                        &["hazard_id", "level", "found_at", "state", "uscc", "event_id", "found_by"]
                    }
                    Template::Enforcement(_) => {
                        &["case_id", "uscc", "event_time", "record_type", "event_id"]
                    }
                    Template::Point => &["point_id", "kind", "unit", "uscc", "event_id"],
                    Template::Reading => &["point_id", "uscc", "event_time"],
                    Template::Rescue { .. } => &[
                        "incident_id",
                        "region_code",
                        "occurred_at",
                        "reported_at",
                        "deaths",
                        "status",
                        "revision",
                        "accident_type",
                    ],
                };
                f.remove(rng.pick(keys));
                f.to_json().into_bytes()
            }
            BadClass::WrongType => {
                let (k, v) = rng.pick(wrong_type(template));
                f.set(k, v.to_string());
                f.to_json().into_bytes()
            }
            BadClass::BadEnum => {
                let (k, v) = rng.pick(bad_enum(template));
                f.set(k, quoted(v));
                f.to_json().into_bytes()
            }
            BadClass::BadTimestamp => {
                let others: &[&'static str] = match template {
                    Template::Hazard => &["found_at", "deadline"],
                    Template::Rescue { .. } => &["occurred_at", "reported_at"],
                    Template::Enforcement(Enforcement::Suspension { .. }) => &["suspended_until"],
                    _ => &[],
                };
                let field = if others.is_empty() || rng.chance(0.6) {
                    "event_time"
                } else {
                    rng.pick(others)
                };
                f.set(field, quoted(rng.pick(&BAD_TIMESTAMPS)));
                f.to_json().into_bytes()
            }
            BadClass::BadUscc => {
                f.set("uscc", quoted(&bad_uscc(rng, &ent.uscc)));
                f.to_json().into_bytes()
            }
            BadClass::OutOfRange => {
                let (k, v) = match template {
                    Template::Hazard => ("description", quoted(&"隐患描述过长".repeat(700))),
                    _ => {
                        let (k, v) = rng.pick(out_of_range(template));
                        (k, v.to_string())
                    }
                };
                f.set(k, v);
                f.to_json().into_bytes()
            }
            BadClass::TooLarge => {
                // An unknown field (kept in `extra` when small) that pushes the record past 1 MiB.
                const ALPHABET: &[u8; 64] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                let offset = rng.below(64) as usize;
                let padding: String = (0..MAX_RECORD_BYTES + 4096)
                    .map(|i| char::from(ALPHABET[(i + offset) % 64]))
                    .collect();
                f.set("attachment_base64", quoted(&padding));
                f.to_json().into_bytes()
            }
            BadClass::NewerSchemaVersion => {
                f.set("schema_version", "2".to_string());
                f.to_json().into_bytes()
            }
        };
        debug_assert!(!payload.contains(&b'\n'));
        GenRecord { topic, key, payload, event_time_ms: t, bad: Some(class) }
    }
}

/// A registry point for an enterprise that has none (bad monitoring records only).
fn fallback_point(ent: u32, uscc: &str) -> Point {
    Point {
        ent,
        id: format!("{uscc}-GT01"),
        kind: PointKind::CombustibleGas,
        unit_level: None,
        low_low: None,
        low: None,
        high: Some(25.0),
        high_high: Some(50.0),
        period_s: 30,
        nominal: 0.5,
        scale: 0.25,
        decimals: 1,
        floor: Some(0.0),
        low_side: 0.0,
    }
}

fn not_json(rng: &mut Rng, f: &Fields, event_id: &str) -> Vec<u8> {
    let json = f.to_json();
    match rng.below(5) {
        0 => {
            // Cut in the middle (on a character boundary): the object never closes.
            let mut cut = json.len() / 2;
            while !json.is_char_boundary(cut) {
                cut -= 1;
            }
            json.as_bytes()[..cut].to_vec()
        }
        1 => json.replace('"', "'").into_bytes(),
        2 => {
            // Not even UTF-8.
            let mut b = vec![0xFF, 0xFE];
            b.extend_from_slice(json.as_bytes());
            b
        }
        3 => format!("{{\"event_id\":{},\"event_ti", quoted(event_id)).into_bytes(),
        _ => {
            let mut s = json;
            s.pop();
            s.push_str(",}");
            s.into_bytes()
        }
    }
}

fn wrong_type(template: Template) -> &'static [(&'static str, &'static str)] {
    match template {
        Template::Enterprise => &[
            ("employees", "\"many\""),
            ("own_rescue_team", "\"yes\""),
            ("major_hazard_units", "\"two\""),
            ("name", "12345"),
            ("standardization_grade", "\"2\""),
        ],
        Template::Hazard => &[("hazard_id", "12345"), ("found_at", "true"), ("description", "42")],
        Template::Enforcement(Enforcement::Inspection { .. }) => {
            &[("violations", "\"3\""), ("violations", "\"three\"")]
        }
        Template::Enforcement(Enforcement::Recheck { .. }) => &[("recheck_passed", "\"yes\"")],
        Template::Enforcement(Enforcement::Penalty { .. }) => &[("fine_cny", "\"20000元\"")],
        Template::Enforcement(_) => &[("case_id", "12345")],
        Template::Point => &[
            ("expected_period_s", "\"30s\""),
            ("flatline_applicable", "\"true\""),
            ("high", "\"25\""),
        ],
        Template::Reading => &[("value", "\"12.5\""), ("point_id", "123")],
        Template::Rescue { .. } => {
            &[("deaths", "\"2\""), ("public_impact", "\"no\""), ("direct_loss_cny", "\"unknown\"")]
        }
    }
}

fn bad_enum(template: Template) -> &'static [(&'static str, &'static str)] {
    match template {
        Template::Enterprise => {
            &[("industry", "chemicals"), ("status", "open"), ("official_color", "green")]
        }
        Template::Hazard => &[("level", "severe"), ("found_by", "police"), ("state", "done")],
        Template::Enforcement(_) => &[("record_type", "warning")],
        Template::Point => &[("kind", "smoke")],
        Template::Reading => &[("quality", "ok")],
        Template::Rescue { .. } => {
            &[("status", "finished"), ("accident_type", "21"), ("accident_type", "1")]
        }
    }
}

fn out_of_range(template: Template) -> &'static [(&'static str, &'static str)] {
    match template {
        Template::Enterprise => &[
            ("major_hazard_level", "7"),
            ("standardization_grade", "5"),
            ("employees", "-3"),
            ("lat", "95.000000"),
            ("major_hazard_units", "-1"),
        ],
        Template::Enforcement(Enforcement::Inspection { .. }) => &[("violations", "-1")],
        Template::Enforcement(_) => &[("fine_cny", "-500.00")],
        Template::Rescue { .. } => &[
            ("deaths", "-1"),
            ("minor_injuries", "-2"),
            ("direct_loss_cny", "-100.00"),
            ("revision", "-1"),
        ],
        // Readings have no ranged field; OutOfRange always uses a point template.
        Template::Point | Template::Reading | Template::Hazard => {
            &[("unit_level", "7"), ("expected_period_s", "0"), ("expected_period_s", "-30")]
        }
    }
}

/// A USCC of the wrong shape, derived from a real one.
fn bad_uscc(rng: &mut Rng, real: &str) -> String {
    let mut b: Vec<u8> = real.as_bytes().to_vec();
    match rng.below(5) {
        0 => return "1234".to_string(),
        1 => {
            let at = rng.range(8, 16) as usize;
            b[at] = rng.pick(b"IOSVZ");
        }
        2 => {
            b.pop();
        }
        3 => b.push(b'0'),
        _ => b[4] = b'A',
    }
    String::from_utf8(b).unwrap_or_default()
}
