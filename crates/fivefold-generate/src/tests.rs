//! Tests of the whole generator, with a tiny test-only JSON parser and validator
//! that mirror the rules of `fivefold_model::spec`.

use std::collections::BTreeSet;

use fivefold_model::Topic;
use fivefold_model::spec::{
    ENFORCEMENT, ENTERPRISE, FieldSpec, HAZARD, Kind, MONITORING_POINT, MONITORING_READING,
    Presence, RESCUE,
};
use fivefold_model::time::parse_rfc3339_ms;
use fivefold_model::uscc::{check_shape, checksum_ok};

use crate::bad::MAX_RECORD_BYTES;
use crate::{BadClass, DEFAULT_START_MS, GenConfig, GenError, GenRecord, GenSummary, Generator};

// ---- a tiny JSON parser ----

#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    /// The number's text.
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn lit(&mut self, word: &str, v: J) -> Option<J> {
        self.b[self.i..].starts_with(word.as_bytes()).then(|| {
            self.i += word.len();
            v
        })
    }

    fn value(&mut self) -> Option<J> {
        self.ws();
        let v = match *self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b'}').is_none() {
                    loop {
                        self.ws();
                        let J::Str(k) = self.string()? else {
                            return None;
                        };
                        self.ws();
                        self.eat(b':')?;
                        let v = self.value()?;
                        items.push((k, v));
                        self.ws();
                        if self.eat(b',').is_some() {
                            continue;
                        }
                        self.eat(b'}')?;
                        break;
                    }
                }
                J::Obj(items)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']').is_none() {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        if self.eat(b',').is_some() {
                            continue;
                        }
                        self.eat(b']')?;
                        break;
                    }
                }
                J::Arr(items)
            }
            b'"' => self.string()?,
            b't' => self.lit("true", J::Bool(true))?,
            b'f' => self.lit("false", J::Bool(false))?,
            b'n' => self.lit("null", J::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        Some(v)
    }

    fn string(&mut self) -> Option<J> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return Some(J::Str(out)),
                b'\\' => {
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let hex = std::str::from_utf8(self.b.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => {
                    // Copy one UTF-8 character.
                    let start = self.i - 1;
                    let len = match c {
                        0x00..=0x7F => 1,
                        0xC0..=0xDF => 2,
                        0xE0..=0xEF => 3,
                        _ => 4,
                    };
                    let s = std::str::from_utf8(self.b.get(start..start + len)?).ok()?;
                    out.push_str(s);
                    self.i = start + len;
                }
            }
        }
    }

    fn number(&mut self) -> Option<J> {
        let start = self.i;
        self.eat(b'-');
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.i < p.b.len() && p.b[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i > s
        };
        if self.eat(b'0').is_none() && !digits(self) {
            return None;
        }
        if self.eat(b'.').is_some() && !digits(self) {
            return None;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(J::Num(std::str::from_utf8(&self.b[start..self.i]).ok()?.to_string()))
    }
}

fn parse(s: &str) -> Option<J> {
    let mut p = Parser { b: s.as_bytes(), i: 0 };
    let v = p.value()?;
    p.ws();
    (p.i == p.b.len()).then_some(v)
}

// ---- a tiny validator following the field specs ----

type Problems = Vec<(BadClass, String)>;

fn get<'a>(obj: &'a [(String, J)], key: &str) -> Option<&'a J> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn as_int(raw: &str) -> Option<i64> {
    if raw.contains(['.', 'e', 'E']) { None } else { raw.parse().ok() }
}

fn check_field(spec: &FieldSpec, v: &J, out: &mut Problems) {
    let name = spec.name;
    let mut bad = |c: BadClass, why: &str| out.push((c, format!("{name}: {why}")));
    match (spec.kind, v) {
        (Kind::Str { min, max }, J::Str(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                bad(BadClass::OutOfRange, "length");
            }
        }
        (Kind::Enum(list), J::Str(s)) => {
            if !list.contains(&s.as_str()) {
                bad(BadClass::BadEnum, s);
            }
        }
        (Kind::Int { min, max }, J::Num(raw)) => match as_int(raw) {
            Some(i) if i < min || i > max => bad(BadClass::OutOfRange, raw),
            Some(_) => {}
            None => bad(BadClass::WrongType, "not an integer"),
        },
        (Kind::Float { min, max }, J::Num(raw)) => {
            let f: f64 = raw.parse().unwrap();
            if f < min || f > max {
                bad(BadClass::OutOfRange, raw);
            }
        }
        (Kind::Bool, J::Bool(_)) => {}
        (Kind::Timestamp, J::Str(s)) => {
            if parse_rfc3339_ms(s).is_err() {
                bad(BadClass::BadTimestamp, s);
            }
        }
        (Kind::Timestamp, J::Num(raw)) => {
            if as_int(raw).is_none() {
                bad(BadClass::WrongType, raw);
            }
        }
        (Kind::Uscc, J::Str(s)) => {
            if check_shape(s).is_err() {
                bad(BadClass::BadUscc, s);
            }
        }
        (Kind::RegionCode, J::Str(s)) => {
            if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                bad(BadClass::OutOfRange, s);
            }
        }
        _ => bad(BadClass::WrongType, &format!("{v:?}")),
    }
}

/// Every problem of a payload, as (class, detail).
fn validate(topic: Topic, payload: &[u8]) -> Problems {
    let mut out = Vec::new();
    if payload.len() > MAX_RECORD_BYTES {
        out.push((BadClass::TooLarge, payload.len().to_string()));
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        out.push((BadClass::NotJson, "not utf-8".into()));
        return out;
    };
    let Some(json) = parse(text) else {
        out.push((BadClass::NotJson, "does not parse".into()));
        return out;
    };
    let J::Obj(obj) = json else {
        out.push((BadClass::NotObject, "not an object".into()));
        return out;
    };
    if let Some(J::Num(raw)) = get(&obj, "schema_version")
        && as_int(raw).is_some_and(|v| v > 1)
    {
        out.push((BadClass::NewerSchemaVersion, raw.clone()));
    }
    let specs: &[FieldSpec] = match topic {
        Topic::Enterprise => ENTERPRISE,
        Topic::Hazard => HAZARD,
        Topic::Enforcement => ENFORCEMENT,
        Topic::Rescue => RESCUE,
        Topic::Monitoring => match get(&obj, "record_type") {
            Some(J::Str(s)) if s == "point" => MONITORING_POINT,
            Some(J::Str(s)) if s == "reading" => MONITORING_READING,
            other => {
                out.push((BadClass::BadEnum, format!("record_type {other:?}")));
                return out;
            }
        },
    };
    for spec in specs {
        match get(&obj, spec.name) {
            None | Some(J::Null) => {
                if spec.presence == Presence::Required {
                    out.push((BadClass::MissingField, spec.name.to_string()));
                }
            }
            Some(v) => check_field(spec, v, &mut out),
        }
    }
    let s = |k: &str| match get(&obj, k) {
        Some(J::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    let present = |k: &str| !matches!(get(&obj, k), None | Some(J::Null));
    let mut need = |cond: bool, k: &str| {
        if cond && !present(k) {
            out.push((BadClass::MissingField, format!("{k} (conditional)")));
        }
    };
    match topic {
        Topic::Hazard => need(s("level") == Some("major"), "deadline"),
        Topic::Enforcement => {
            let rt = s("record_type");
            need(rt == Some("inspection"), "violations");
            need(rt == Some("recheck"), "recheck_passed");
            need(rt == Some("penalty"), "fine_cny");
            need(rt == Some("suspension"), "suspended_until");
        }
        Topic::Monitoring if s("record_type") == Some("reading") => {
            need(s("quality").unwrap_or("good") == "good", "value");
        }
        _ => {}
    }
    out
}

// ---- helpers ----

fn cfg(enterprises: u32, hours: f64, seed: u64, bad_ratio: f64) -> GenConfig {
    GenConfig { enterprises, hours, seed, bad_ratio, ..GenConfig::default() }
}

fn run(c: GenConfig) -> Vec<GenRecord> {
    Generator::new(c).unwrap().collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn field<'a>(obj: &'a J, key: &str) -> Option<&'a J> {
    match obj {
        J::Obj(items) => get(items, key),
        _ => None,
    }
}

fn str_field(obj: &J, key: &str) -> Option<String> {
    match field(obj, key) {
        Some(J::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn time_field(obj: &J, key: &str) -> Option<i64> {
    match field(obj, key)? {
        J::Str(s) => parse_rfc3339_ms(s).ok(),
        J::Num(raw) => as_int(raw),
        _ => None,
    }
}

/// Checks every good record against the specs and the generator's own promises.
fn check_good(records: &[GenRecord]) {
    let mut ids = BTreeSet::new();
    for r in records.iter().filter(|r| r.bad.is_none()) {
        let text = std::str::from_utf8(&r.payload).unwrap();
        let problems = validate(r.topic, &r.payload);
        assert!(problems.is_empty(), "{problems:?} in {text}");
        let json = parse(text).unwrap();
        assert_eq!(time_field(&json, "event_time"), Some(r.event_time_ms), "{text}");
        if let Some(id) = str_field(&json, "event_id") {
            assert!(id.len() <= 128);
            assert!(ids.insert(id), "duplicate event_id in {text}");
        } else {
            assert_eq!(str_field(&json, "record_type").as_deref(), Some("reading"), "{text}");
        }
        match str_field(&json, "uscc") {
            Some(u) => {
                assert!(checksum_ok(&u), "check character of {u}");
                assert_eq!(r.key, u);
            }
            None => {
                assert_eq!(r.topic, Topic::Rescue, "{text}");
                assert_eq!(Some(r.key.clone()), str_field(&json, "region_code"));
            }
        }
        if let Some(found) = time_field(&json, "found_at") {
            assert!(found <= r.event_time_ms, "{text}");
        }
        if r.topic == Topic::Rescue {
            let occurred = time_field(&json, "occurred_at").unwrap();
            let reported = time_field(&json, "reported_at").unwrap();
            assert!(occurred < reported && reported <= r.event_time_ms, "{text}");
        }
    }
}

// ---- tests ----

#[test]
fn default_start_is_march_first_in_suzhou() {
    assert_eq!(parse_rfc3339_ms("2026-03-01T00:00:00+08:00"), Ok(DEFAULT_START_MS));
    assert_eq!(GenConfig::default().start_ms, DEFAULT_START_MS);
}

#[test]
fn config_errors_name_the_flag() {
    let msg = |c: GenConfig| match Generator::new(c) {
        Err(GenError::Config(m)) => m,
        other => panic!("expected a config error, got {:?}", other.map(|_| ())),
    };
    assert_eq!(msg(cfg(10, 1.0, 1, 1.5)), "--bad-ratio must be between 0 and 1, got 1.5");
    assert!(msg(cfg(0, 1.0, 1, 0.0)).starts_with("--enterprises"));
    assert!(msg(cfg(1, 0.0, 1, 0.0)).starts_with("--hours"));
    assert!(msg(cfg(1, f64::INFINITY, 1, 0.0)).starts_with("--hours"));
    assert!(msg(cfg(1, f64::NAN, 1, 0.0)).starts_with("--hours"));
    assert!(msg(cfg(1, 1.0, 1, f64::NAN)).starts_with("--bad-ratio"));
    assert!(cfg(1, 0.01, 1, 1.0).validate().is_ok());
}

#[test]
fn deterministic_for_a_seed() {
    let a = run(cfg(40, 0.5, 11, 0.03));
    let b = run(cfg(40, 0.5, 11, 0.03));
    assert!(a.len() > 1000);
    assert_eq!(a, b);
    let c = run(cfg(40, 0.5, 12, 0.03));
    assert_ne!(a, c);
}

#[test]
fn good_records_do_not_depend_on_bad_ratio() {
    let clean = run(cfg(30, 0.5, 5, 0.0));
    let dirty: Vec<GenRecord> =
        run(cfg(30, 0.5, 5, 0.2)).into_iter().filter(|r| r.bad.is_none()).collect();
    assert_eq!(clean, dirty);
}

#[test]
fn ordered_by_event_time_and_bounded() {
    let c = cfg(60, 2.0, 3, 0.02);
    let end = c.start_ms + 2 * 3_600_000;
    let recs = run(c.clone());
    assert!(recs.windows(2).all(|w| w[0].event_time_ms <= w[1].event_time_ms));
    assert!(recs.iter().all(|r| (c.start_ms..end).contains(&r.event_time_ms)));
    // The registry comes first: enterprises, then points.
    let good = recs.iter().filter(|r| r.bad.is_none());
    let n_ent = good.take_while(|r| r.topic == Topic::Enterprise).count();
    assert_eq!(n_ent, 60);
}

#[test]
fn good_records_follow_the_specs() {
    let recs = run(cfg(100, 1.0, 9, 0.0));
    check_good(&recs);
    let readings = recs.iter().filter(|r| r.topic == Topic::Monitoring).count();
    assert!(readings > 5000, "{readings}");
    // Both timestamp forms, and both reading shapes.
    let epoch = recs.iter().filter(|r| r.payload.starts_with(b"{\"event_time\":1")).count();
    assert!(epoch > 0);
    let with_id = recs
        .iter()
        .filter(|r| contains(&r.payload, b"\"record_type\":\"reading\""))
        .filter(|r| r.payload.starts_with(b"{\"event_id\""))
        .count();
    assert!(with_id > 0 && with_id < readings / 5, "{with_id}");
}

#[test]
fn slow_processes_over_months() {
    // Without readings, so that months of hazards, cases and incidents stay fast.
    let c = cfg(400, 24.0 * 120.0, 2, 0.0);
    let recs: Vec<GenRecord> = Generator::build(c, false).unwrap().collect();
    check_good(&recs);
    let mut summary = GenSummary::default();
    for r in &recs {
        summary.record(r);
    }
    assert!(summary.good.iter().all(|&n| n > 0), "{summary:?}");
    let text = |t: Topic| {
        recs.iter()
            .filter(move |r| r.topic == t)
            .map(|r| String::from_utf8(r.payload.clone()).unwrap())
    };
    for state in ["open", "rectifying", "pending_acceptance", "accepted", "closed"] {
        let pat = format!("\"state\":\"{state}\"");
        assert!(text(Topic::Hazard).any(|s| s.contains(&pat)), "{state}");
    }
    for kind in ["inspection", "order", "recheck", "penalty", "suspension"] {
        let pat = format!("\"record_type\":\"{kind}\"");
        assert!(text(Topic::Enforcement).any(|s| s.contains(&pat)), "{kind}");
    }
    assert!(text(Topic::Rescue).any(|s| s.contains("\"revision\":2")));
    assert!(text(Topic::Enterprise).any(|s| s.contains("\"status\":\"suspended\"")));
    // Hazards about 4 per enterprise-year: 400 enterprises x 120 days, plus the backlog.
    let new_hazards = text(Topic::Hazard).filter(|s| s.contains("\"state\":\"open\"")).count();
    assert!((300..1200).contains(&new_hazards), "{new_hazards}");
}

#[test]
fn bad_records_are_bad_in_exactly_their_way() {
    let recs = run(cfg(30, 1.0, 4, 0.05));
    let mut summary = GenSummary::default();
    for r in &recs {
        summary.record(r);
    }
    assert_eq!(summary.total(), recs.len() as u64);
    let bad: Vec<&GenRecord> = recs.iter().filter(|r| r.bad.is_some()).collect();
    assert!(bad.len() >= 100, "{}", bad.len());
    for class in BadClass::ALL {
        assert!(summary.bad_by_class[class.index()] > 0, "{}", class.name());
        assert_eq!(BadClass::from_name(class.name()), Some(class));
    }
    assert!(summary.bad.iter().all(|&n| n > 0), "{summary:?}");
    let ratio = bad.len() as f64 / summary.good_total() as f64;
    assert!((0.035..0.065).contains(&ratio), "{ratio}");
    for r in bad {
        let class = r.bad.unwrap();
        assert!(!r.payload.contains(&b'\n'));
        let classes: BTreeSet<BadClass> =
            validate(r.topic, &r.payload).into_iter().map(|(c, _)| c).collect();
        assert_eq!(
            classes,
            BTreeSet::from([class]),
            "{} record for {}: {}",
            class.name(),
            r.topic.name(),
            String::from_utf8_lossy(&r.payload[..r.payload.len().min(300)])
        );
    }
    check_good(&recs);
}

#[test]
fn too_large_is_rare_but_present() {
    let recs = run(cfg(20, 1.0, 8, 1.0));
    let bad = recs.iter().filter(|r| r.bad.is_some()).count();
    let large = recs.iter().filter(|r| r.bad == Some(BadClass::TooLarge)).count();
    assert!(bad >= 500, "{bad}");
    assert!(large >= 1 && large <= bad.div_ceil(500), "{large} of {bad}");
}

#[test]
fn volume_is_bounded() {
    let g = Generator::new(cfg(100, 1.0, 1, 0.0)).unwrap();
    let estimate = g.estimated_records();
    let n = g.count() as u64;
    assert!((10_000..200_000).contains(&n), "{n}");
    let err = (estimate as f64 - n as f64).abs() / n as f64;
    assert!(err < 0.1, "estimate {estimate} vs {n}");
}

#[test]
fn writes_one_file_per_topic() {
    let dir = std::env::temp_dir()
        .join(format!("fivefold-generate-test-{}", std::process::id()))
        .join("out");
    let g = Generator::new(cfg(10, 0.25, 2, 0.05)).unwrap();
    let mut calls = Vec::new();
    let summary = crate::write_files(g, &dir, &mut |n| calls.push(n)).unwrap();
    assert_eq!(calls, vec![summary.total()]);
    let mut lines = 0u64;
    for (i, t) in Topic::ALL.iter().enumerate() {
        let bytes = std::fs::read(dir.join(format!("{}.jsonl", t.name()))).unwrap();
        let n = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(n, summary.good[i] + summary.bad[i], "{}", t.name());
        lines += n;
    }
    assert_eq!(lines, summary.total());
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();

    // A directory that cannot be created is reported with its path.
    let blocker =
        std::env::temp_dir().join(format!("fivefold-generate-file-{}", std::process::id()));
    std::fs::write(&blocker, b"x").unwrap();
    let g = Generator::new(cfg(1, 0.01, 1, 0.0)).unwrap();
    let err = crate::write_files(g, &blocker.join("sub"), &mut |_| {}).unwrap_err();
    assert!(err.to_string().starts_with("cannot write "), "{err}");
    assert!(err.to_string().contains("fivefold-generate-file-"), "{err}");
    std::fs::remove_file(blocker).unwrap();
}

#[test]
fn json_parser_sanity() {
    assert!(parse(r#"{"a":[1,2.5,-3e2],"b":"x\"\u00e9","c":null,"d":true}"#).is_some());
    for bad in [r#"{"a":1"#, r#"{'a':1}"#, r#"{"a":1,}"#, "[1,]", "01x", ""] {
        assert!(parse(bad).is_none(), "{bad}");
    }
}

/// The model's own decoder accepts every good record and rejects every bad one
/// with the class the generator meant.
#[test]
fn agrees_with_the_model_decoder() {
    use fivefold_model::{Decoder, Outcome, SourceRef};

    let mut recs = run(cfg(100, 2.0, 21, 0.2));
    recs.extend(Generator::build(cfg(300, 24.0 * 90.0, 22, 0.3), false).unwrap());
    let mut decoders: Vec<Decoder> = Topic::ALL.iter().map(|t| Decoder::new(*t)).collect();
    let mut mismatches = Vec::new();
    for r in &recs {
        let i = Topic::ALL.iter().position(|t| *t == r.topic).unwrap();
        let src = SourceRef { topic: r.topic.name(), ..Default::default() };
        let (got, reason) = match decoders[i].push(&r.payload, &src, 0) {
            Outcome::Accepted(_) => ("ok", String::new()),
            Outcome::Rejected(why) => (why.class.as_str(), why.reason()),
        };
        let want = r.bad.map_or("ok", BadClass::name);
        if got != want && mismatches.len() < 10 {
            let head = String::from_utf8_lossy(&r.payload[..r.payload.len().min(300)]).into_owned();
            mismatches.push(format!("{} {want} -> {got} ({reason}): {head}", r.topic.name()));
        }
        if decoders[i].buffered_rows() > 20_000 {
            decoders[i].finish().unwrap();
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn tiny_cities_work() {
    for seed in 0..30 {
        let recs = run(cfg(1, 3.0, seed, 0.5));
        assert!(recs.iter().any(|r| r.topic == Topic::Enterprise && r.bad.is_none()));
        check_good(&recs);
        for r in recs.iter().filter(|r| r.bad.is_some()) {
            let classes: BTreeSet<BadClass> =
                validate(r.topic, &r.payload).into_iter().map(|(c, _)| c).collect();
            assert_eq!(classes, BTreeSet::from([r.bad.unwrap()]));
        }
    }
}
