//! The event-time simulation: a heap of scheduled events, popped in time order.
//!
//! Every entity that produces records over time owns at most a few heap
//! entries: one per sensor point (its next reading), one per live hazard, case
//! and incident (its next version), and one per city-wide Poisson process
//! (enterprise re-versions, new hazards, inspections, incidents). Memory
//! therefore depends on the size of the city, never on the number of hours.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use fivefold_model::Topic;

use crate::bad::BadMaker;
use crate::city::{City, Point, Status};
use crate::json::Fields;
use crate::records::{self, Enforcement, HazardVersion, IncidentVersion, Sample};
use crate::rng::{Picker, Rng};
use crate::{GenConfig, GenError, GenRecord};

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const YEAR: f64 = 365.25 * DAY as f64;

/// Share of records whose timestamps are integer epoch milliseconds.
pub(crate) const EPOCH_SHARE: f64 = 0.03;
/// The city bureau, the agency of enforcement cases above the counties'.
pub(crate) const CITY_AGENCY: &str = "苏州市应急管理局";
/// Share of readings that carry an `event_id`.
const READING_EVENT_ID_SHARE: f64 = 0.05;
/// Share of good readings that spell out `"quality":"good"` (the rest rely on the default).
const QUALITY_EXPLICIT_SHARE: f64 = 0.9;
/// Share of readings with quality `bad` and no value.
const BAD_QUALITY_SHARE: f64 = 0.0005;

/// Mean days between two versions of one enterprise.
const REVISION_MEAN_DAYS: f64 = 90.0;
/// Hazards found per enterprise per year, before the industry factor.
const HAZARDS_PER_YEAR: f64 = 4.0;
/// Share of hazards that are 重大隐患.
const MAJOR_HAZARD_SHARE: f64 = 0.01;
/// Days before the start from which still-open hazards are carried into the first hour.
const BACKLOG_DAYS: i64 = 60;
/// Incidents per enterprise per (30-day) month.
const INCIDENTS_PER_ENTERPRISE_MONTH: f64 = 1.0 / 200.0;
/// Share of incidents in public areas (no enterprise).
const PUBLIC_INCIDENT_SHARE: f64 = 0.2;

/// Mean hours between alarm excursions of one point.
const EXCURSION_MEAN_H: f64 = 72.0;
/// Mean hours between offline spells of one point.
const OFFLINE_MEAN_H: f64 = 120.0;
/// Mean hours between flatlines of one flatline-applicable point.
const FLATLINE_MEAN_H: f64 = 240.0;

/// Hazard descriptions (one contains quotes, to exercise escaping).
const DESCRIPTIONS: &[&str] = &[
    "可燃气体报警器未按期检定",
    "安全出口被货物堵塞",
    "动火作业未办理审批手续",
    "储罐区防火堤局部破损",
    "特种作业人员未持证上岗",
    "部分灭火器压力不足",
    "粉尘清扫制度未落实，设备表面积尘",
    "液氨管道阀门锈蚀",
    "应急预案未按规定组织演练",
    "静电接地装置失效",
    "罐区\"严禁烟火\"警示标志缺失",
    "配电箱未加锁，线路私拉乱接",
    "有限空间作业未检测气体浓度",
    "安全阀超期未校验",
];
/// Descriptions of 重大隐患.
const MAJOR_DESCRIPTIONS: &[&str] = &[
    "涉及重点监管危险化工工艺的装置未实现自动化控制",
    "重大危险源未实现温度、压力、液位自动监测及紧急切断",
    "有毒气体检测报警装置缺失",
    "甲类仓库与周边建筑防火间距不足",
];
/// GB 6441 accident classes with a rough frequency.
const ACCIDENT_MIX: [(&str, u32); 20] = [
    ("01", 10),
    ("02", 8),
    ("03", 14),
    ("04", 5),
    ("05", 6),
    ("06", 2),
    ("07", 6),
    ("08", 12),
    ("09", 12),
    ("10", 5),
    ("11", 1),
    ("12", 1),
    ("13", 1),
    ("14", 1),
    ("15", 1),
    ("16", 1),
    ("17", 2),
    ("18", 3),
    ("19", 5),
    ("20", 4),
];

/// A heap entry: the min-heap order is `(t, seq)`, so ties keep insertion order.
struct Sched {
    t: i64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Sched {
    fn eq(&self, other: &Self) -> bool {
        self.t == other.t && self.seq == other.seq
    }
}
impl Eq for Sched {}
impl PartialOrd for Sched {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sched {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        (other.t, other.seq).cmp(&(self.t, self.seq))
    }
}

/// What happens at a scheduled time.
enum Ev {
    /// The first version of an enterprise.
    EnterpriseInit(u32),
    /// The registry record of a point.
    PointInit(u32),
    /// The next reading of a point.
    Reading(u32),
    /// City-wide process: some enterprise re-versions.
    EnterpriseRevision,
    /// An enterprise changes status (suspension and its end).
    EnterpriseStatus { ent: u32, status: Status },
    /// City-wide process: a hazard is found.
    NewHazard,
    /// The next version of a hazard.
    Hazard(Box<HazardState>),
    /// City-wide process: an inspection.
    NewInspection,
    /// The next record of an enforcement case.
    Case(Box<CaseState>),
    /// City-wide process: an incident.
    NewIncident,
    /// The next revision of an incident.
    Incident(Box<IncidentState>),
}

struct HazardState {
    id: String,
    ent: u32,
    major: bool,
    found_by: &'static str,
    found_at: i64,
    deadline: Option<i64>,
    description: Option<&'static str>,
    /// The state the next emitted version carries.
    state: &'static str,
    /// Later states and when they are reached.
    plan: Vec<(i64, &'static str)>,
    next: usize,
}

struct CaseState {
    id: String,
    ent: u32,
    plan: Vec<(i64, Enforcement)>,
    next: usize,
}

struct IncidentState {
    id: String,
    ent: Option<u32>,
    region_code: String,
    accident_type: &'static str,
    occurred_at: i64,
    reported_at: i64,
    deaths: u32,
    serious: u32,
    minor: u32,
    loss: f64,
    public_impact: bool,
    revision: u32,
    /// Statuses of the revisions from the next one on, with their times.
    plan: Vec<(i64, &'static str)>,
    next: usize,
}

/// The dynamic state of one sensor point.
struct Sensor {
    /// The process value (before measurement noise).
    x: f64,
    /// Where the process value is heading.
    target: f64,
    /// Fast approach: during and right after an excursion.
    fast: bool,
    exc_end: Option<i64>,
    next_exc: i64,
    off_until: i64,
    off_comm_fail: bool,
    next_off: i64,
    flat_until: i64,
    flat_value: f64,
    next_flat: i64,
}

/// The record stream: an iterator of [`GenRecord`]s in non-decreasing event time.
///
/// Built from a [`GenConfig`]; the same configuration always yields the same
/// records, byte for byte.
pub struct Generator {
    cfg: GenConfig,
    city: City,
    sensors: Vec<Sensor>,
    rng: Rng,
    bad: BadMaker,
    heap: BinaryHeap<Sched>,
    seq: u64,
    end_ms: i64,
    next_event_id: u64,
    next_hazard: u64,
    next_case: u64,
    next_incident: u64,
    pending: Option<GenRecord>,
    /// Enterprises that are not closed: candidates for re-versions.
    active: Vec<u32>,
    hazard_picker: Picker,
    inspection_picker: Picker,
    accident_picker: Picker,
    /// Rates per millisecond of the city-wide processes.
    revision_rate: f64,
    incident_rate: f64,
    backlog: u64,
    readings: bool,
    /// Agency names per county, and the city bureau last.
    agencies: Vec<String>,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("cfg", &self.cfg)
            .field("enterprises", &self.city.enterprises.len())
            .field("points", &self.city.points.len())
            .field("scheduled", &self.heap.len())
            .finish_non_exhaustive()
    }
}

impl Generator {
    /// Builds the city and schedules the first events.
    ///
    /// # Errors
    ///
    /// [`GenError::Config`] when the configuration is invalid (see [`GenConfig::validate`]).
    pub fn new(cfg: GenConfig) -> Result<Generator, GenError> {
        Generator::build(cfg, true)
    }

    /// As [`Generator::new`], optionally without sensor readings (tests use this to
    /// cover months of the slower processes quickly).
    pub(crate) fn build(cfg: GenConfig, readings: bool) -> Result<Generator, GenError> {
        cfg.validate()?;
        let mut seeder = Rng::new(cfg.seed);
        let city = City::build(cfg.enterprises, &mut Rng::new(seeder.next_u64()));
        let mut rng = Rng::new(seeder.next_u64());
        let bad = BadMaker::new(cfg.seed, cfg.bad_ratio, Rng::new(seeder.next_u64()));
        let start = cfg.start_ms;
        let span = (cfg.hours * HOUR as f64).round().max(1.0);
        let end_ms =
            start.saturating_add(if span >= i64::MAX as f64 { i64::MAX } else { span as i64 });

        let ents = &city.enterprises;
        let live = |i: usize| ents[i].status != Status::Closed;
        let active: Vec<u32> = (0..ents.len()).filter(|&i| live(i)).map(|i| i as u32).collect();
        let hazard_picker = Picker::new(
            (0..ents.len()).map(|i| if live(i) { ents[i].industry.hazard_factor() } else { 0.0 }),
        );
        let inspection_picker = Picker::new(
            (0..ents.len())
                .map(|i| if live(i) { ents[i].industry.inspections_per_year() } else { 0.0 }),
        );
        let accident_picker = Picker::new(
            (0..ents.len()).map(|i| if live(i) { ents[i].industry.accident_factor() } else { 0.0 }),
        );
        let revision_rate = active.len() as f64 / (REVISION_MEAN_DAYS * DAY as f64);
        let incident_rate =
            ents.len() as f64 * INCIDENTS_PER_ENTERPRISE_MONTH / (30.0 * DAY as f64);

        let sensors = city
            .points
            .iter()
            .map(|p| Sensor {
                x: p.nominal + 0.5 * p.scale * rng.normal(),
                target: p.nominal,
                fast: false,
                exc_end: None,
                next_exc: start + hours(rng.exp(EXCURSION_MEAN_H)),
                off_until: i64::MIN,
                off_comm_fail: false,
                next_off: start + hours(rng.exp(OFFLINE_MEAN_H)),
                flat_until: i64::MIN,
                flat_value: 0.0,
                next_flat: if p.kind.flatline_applicable() {
                    start + hours(rng.exp(FLATLINE_MEAN_H))
                } else {
                    i64::MAX
                },
            })
            .collect();

        let mut agencies: Vec<String> = city.counties.iter().map(|c| c.agency.clone()).collect();
        agencies.push(CITY_AGENCY.to_string());

        let mut g = Generator {
            cfg,
            city,
            sensors,
            rng,
            bad,
            heap: BinaryHeap::new(),
            seq: 0,
            end_ms,
            next_event_id: 0,
            next_hazard: 0,
            next_case: 0,
            next_incident: 0,
            pending: None,
            active,
            hazard_picker,
            inspection_picker,
            accident_picker,
            revision_rate,
            incident_rate,
            backlog: 0,
            readings,
            agencies,
        };
        g.schedule_start();
        Ok(g)
    }

    fn schedule_start(&mut self) {
        let start = self.cfg.start_ms;
        for i in 0..self.city.enterprises.len() {
            self.push(start, Ev::EnterpriseInit(i as u32));
        }
        for j in 0..self.city.points.len() {
            self.push(start, Ev::PointInit(j as u32));
        }
        // Hazards found before the start that are still open: a hub that starts
        // watching a city inherits its backlog.
        for i in 0..self.city.enterprises.len() {
            let e = &self.city.enterprises[i];
            if e.status == Status::Closed {
                continue;
            }
            let mean =
                HAZARDS_PER_YEAR * e.industry.hazard_factor() * (BACKLOG_DAYS * DAY) as f64 / YEAR;
            for _ in 0..self.rng.poisson(mean) {
                let found = start - self.rng.range(HOUR, BACKLOG_DAYS * DAY);
                let mut h = self.new_hazard(i as u32, found);
                while let Some(&(at, state)) = h.plan.get(h.next) {
                    if at > start {
                        break;
                    }
                    h.state = state;
                    h.next += 1;
                }
                if !matches!(h.state, "accepted" | "closed") {
                    self.backlog += 1;
                    self.push(start, Ev::Hazard(h));
                }
            }
        }
        if self.readings {
            for j in 0..self.city.points.len() {
                let period = i64::from(self.city.points[j].period_s) * SECOND;
                let t = start + 1 + self.rng.below(period as u64) as i64;
                self.push(t, Ev::Reading(j as u32));
            }
        }
        self.schedule_process(start, Ev::EnterpriseRevision);
        self.schedule_process(start, Ev::NewHazard);
        self.schedule_process(start, Ev::NewInspection);
        self.schedule_process(start, Ev::NewIncident);
    }

    /// Estimated total records (good and bad) for progress bars; within a few percent
    /// for runs of a day or more, not exact.
    pub fn estimated_records(&self) -> u64 {
        let span = (self.end_ms - self.cfg.start_ms) as f64;
        let readings: f64 = if self.readings {
            self.city.points.iter().map(|p| span / (f64::from(p.period_s) * SECOND as f64)).sum()
        } else {
            0.0
        };
        let start =
            (self.city.enterprises.len() + self.city.points.len()) as f64 + self.backlog as f64;
        // Hazards and cases produce further versions within the run only when it is long.
        let days = span / DAY as f64;
        let versions = 1.0 + (days / 10.0).min(3.0);
        let processes = span
            * (self.revision_rate
                + self.rate(&Ev::NewHazard) * versions
                + self.rate(&Ev::NewInspection) * (1.0 + (days / 15.0).min(1.5))
                + self.incident_rate * 3.0);
        let good = readings + start + processes;
        (good * (1.0 + self.cfg.bad_ratio)).round() as u64
    }

    /// The rate per millisecond of a city-wide process.
    fn rate(&self, ev: &Ev) -> f64 {
        match ev {
            Ev::EnterpriseRevision => self.revision_rate,
            Ev::NewHazard => HAZARDS_PER_YEAR * self.hazard_picker.total() / YEAR,
            Ev::NewInspection => self.inspection_picker.total() / YEAR,
            Ev::NewIncident => self.incident_rate,
            _ => 0.0,
        }
    }

    fn push(&mut self, t: i64, ev: Ev) {
        if t < self.end_ms {
            self.seq += 1;
            self.heap.push(Sched { t, seq: self.seq, ev });
        }
    }

    /// Schedules the next firing of a city-wide Poisson process.
    fn schedule_process(&mut self, now: i64, ev: Ev) {
        let rate = self.rate(&ev);
        if rate > 0.0 {
            let gap = self.rng.exp(1.0 / rate).ceil().clamp(1.0, 1e15) as i64;
            self.push(now.saturating_add(gap), ev);
        }
    }

    fn event_id(&mut self, topic: Topic) -> String {
        self.next_event_id += 1;
        format!("{}-{}-{}", topic_prefix(topic), self.cfg.seed, self.next_event_id)
    }

    fn epoch(&mut self) -> bool {
        self.rng.chance(EPOCH_SHARE)
    }

    fn record(topic: Topic, key: &str, fields: &Fields, t: i64) -> GenRecord {
        GenRecord {
            topic,
            key: key.to_string(),
            payload: fields.to_json().into_bytes(),
            event_time_ms: t,
            bad: None,
        }
    }

    fn handle(&mut self, t: i64, ev: Ev) -> Option<GenRecord> {
        match ev {
            Ev::EnterpriseInit(i) => Some(self.enterprise_record(i, t)),
            Ev::PointInit(j) => {
                let id = self.event_id(Topic::Monitoring);
                let epoch = self.epoch();
                let p = &self.city.points[j as usize];
                let uscc = &self.city.enterprises[p.ent as usize].uscc;
                let f = records::point(p, uscc, &id, t, epoch);
                Some(Self::record(Topic::Monitoring, uscc, &f, t))
            }
            Ev::Reading(j) => self.reading(j as usize, t),
            Ev::EnterpriseRevision => {
                self.schedule_process(t, Ev::EnterpriseRevision);
                let i = self.rng.pick(&self.active);
                self.revise(i as usize);
                Some(self.enterprise_record(i, t))
            }
            Ev::EnterpriseStatus { ent, status } => {
                self.city.enterprises[ent as usize].status = status;
                Some(self.enterprise_record(ent, t))
            }
            Ev::NewHazard => {
                self.schedule_process(t, Ev::NewHazard);
                let ent = self.hazard_picker.pick(&mut self.rng)? as u32;
                let h = self.new_hazard(ent, t);
                Some(self.hazard_version(t, h))
            }
            Ev::Hazard(h) => Some(self.hazard_version(t, h)),
            Ev::NewInspection => {
                self.schedule_process(t, Ev::NewInspection);
                let ent = self.inspection_picker.pick(&mut self.rng)? as u32;
                Some(self.inspection(ent, t))
            }
            Ev::Case(c) => Some(self.case_step(t, c)),
            Ev::NewIncident => {
                self.schedule_process(t, Ev::NewIncident);
                Some(self.new_incident(t))
            }
            Ev::Incident(inc) => Some(self.incident_revision(t, inc)),
        }
    }

    // ---- enterprises ----

    fn enterprise_record(&mut self, i: u32, t: i64) -> GenRecord {
        let id = self.event_id(Topic::Enterprise);
        let epoch = self.epoch();
        let e = &self.city.enterprises[i as usize];
        let f = records::enterprise(e, &id, t, epoch);
        Self::record(Topic::Enterprise, &e.uscc, &f, t)
    }

    /// A new version: a changed head count or standardisation grade.
    fn revise(&mut self, i: usize) {
        let rng = &mut self.rng;
        let e = &mut self.city.enterprises[i];
        if rng.chance(0.5) {
            let old = f64::from(e.employees);
            let mut new = (old * rng.uniform(0.85, 1.2)).round().clamp(10.0, 3000.0) as u32;
            if new == e.employees {
                new = if new < 3000 { new + 1 } else { new - 1 };
            }
            e.employees = new;
        } else {
            let others: Vec<u8> = (0..=3).filter(|&g| g != e.standardization_grade).collect();
            e.standardization_grade = rng.pick(&others);
        }
    }

    // ---- monitoring ----

    fn reading(&mut self, j: usize, t: i64) -> Option<GenRecord> {
        let period = i64::from(self.city.points[j].period_s) * SECOND;
        let rng = &mut self.rng;
        let s = &mut self.sensors[j];
        if t >= s.next_off {
            s.off_until = t + rng.range(10 * MINUTE, 60 * MINUTE);
            s.off_comm_fail = rng.chance(0.5);
            s.next_off = s.off_until + hours(rng.exp(OFFLINE_MEAN_H));
        }
        if t < s.off_until && !s.off_comm_fail {
            // A gap: nothing arrives until the link is back.
            let back = s.off_until + rng.below(period as u64) as i64;
            self.push(back, Ev::Reading(j as u32));
            return None;
        }
        let next = t + (period as f64 * rng.uniform(0.97, 1.03)).round() as i64;
        let sample = if t < s.off_until {
            Sample::Missing { quality: "comm_fail" }
        } else {
            let p = &self.city.points[j];
            let value = step_sensor(p, s, rng, t, period);
            if rng.chance(BAD_QUALITY_SHARE) {
                Sample::Missing { quality: "bad" }
            } else {
                Sample::Good {
                    value,
                    decimals: p.decimals,
                    explicit: rng.chance(QUALITY_EXPLICIT_SHARE),
                }
            }
        };
        self.push(next, Ev::Reading(j as u32));
        let id = self.rng.chance(READING_EVENT_ID_SHARE).then(|| self.event_id(Topic::Monitoring));
        let epoch = self.epoch();
        let p = &self.city.points[j];
        let uscc = &self.city.enterprises[p.ent as usize].uscc;
        let f = records::reading(uscc, &p.id, id.as_deref(), t, epoch, sample);
        Some(Self::record(Topic::Monitoring, uscc, &f, t))
    }

    // ---- hazards ----

    fn new_hazard(&mut self, ent: u32, found_at: i64) -> Box<HazardState> {
        self.next_hazard += 1;
        let rng = &mut self.rng;
        let id = format!("HZ-{}-{:06}", self.cfg.seed, self.next_hazard);
        let major = rng.chance(MAJOR_HAZARD_SHARE);
        let found_by = rng.table(&[("self", 60), ("government", 25), ("third_party", 15)]);
        let deadline = if major {
            Some(found_at + 30 * DAY)
        } else if rng.chance(0.85) {
            Some(found_at + rng.range(7, 30) * DAY)
        } else {
            None
        };
        let description = if major {
            Some(rng.pick(MAJOR_DESCRIPTIONS))
        } else {
            rng.chance(0.8).then(|| rng.pick(DESCRIPTIONS))
        };
        let plan = hazard_plan(rng, major, found_by, found_at, deadline);
        Box::new(HazardState {
            id,
            ent,
            major,
            found_by,
            found_at,
            deadline,
            description,
            state: "open",
            plan,
            next: 0,
        })
    }

    /// Emits the hazard's current state and schedules its next one.
    fn hazard_version(&mut self, t: i64, mut h: Box<HazardState>) -> GenRecord {
        let id = self.event_id(Topic::Hazard);
        let epoch = self.epoch();
        let v = HazardVersion {
            hazard_id: &h.id,
            major: h.major,
            found_by: h.found_by,
            found_at: h.found_at,
            deadline: h.deadline,
            state: h.state,
            description: h.description,
        };
        let uscc = &self.city.enterprises[h.ent as usize].uscc;
        let f = records::hazard(&v, uscc, &id, t, epoch);
        let rec = Self::record(Topic::Hazard, uscc, &f, t);
        if let Some(&(at, state)) = h.plan.get(h.next) {
            h.state = state;
            h.next += 1;
            self.push(at, Ev::Hazard(h));
        }
        rec
    }

    // ---- enforcement ----

    fn inspection(&mut self, ent: u32, t: i64) -> GenRecord {
        self.next_case += 1;
        let id = format!("CASE-{}-{:06}", self.cfg.seed, self.next_case);
        let rng = &mut self.rng;
        let violations = rng.table(&[(0u8, 40), (1, 20), (2, 15), (3, 12), (4, 8), (5, 5)]);
        let v = f64::from(violations);
        let mut plan: Vec<(i64, Enforcement)> = Vec::new();
        if violations > 0 && rng.chance(if violations >= 2 { 0.9 } else { 0.6 }) {
            let order = t + rng.range(HOUR, 48 * HOUR);
            plan.push((order, Enforcement::Order));
            let recheck = order + rng.range(7 * DAY, 30 * DAY);
            let passed = rng.chance((0.92 - 0.06 * v).max(0.5));
            plan.push((recheck, Enforcement::Recheck { passed }));
            if !passed {
                if rng.chance(0.7) {
                    let at = recheck + rng.range(2 * DAY, 10 * DAY);
                    plan.push((at, Enforcement::Penalty { fine_cny: fine(rng) }));
                }
                if rng.chance(0.25) {
                    let at = recheck + rng.range(DAY, 5 * DAY);
                    let until = at + rng.range(7, 60) * DAY;
                    plan.push((at, Enforcement::Suspension { until }));
                }
            }
        }
        if violations >= 2 && rng.chance(0.12) {
            let at = t + rng.range(3 * DAY, 20 * DAY);
            plan.push((at, Enforcement::Penalty { fine_cny: fine(rng) }));
        }
        if violations >= 4 && rng.chance(0.05) {
            let at = t + rng.range(5 * HOUR, 3 * DAY);
            let until = at + rng.range(7, 60) * DAY;
            plan.push((at, Enforcement::Suspension { until }));
        }
        plan.sort_by_key(|&(at, _)| at);
        let agency_idx = if rng.chance(0.2) {
            self.agencies.len() - 1
        } else {
            self.city.enterprises[ent as usize].county
        };
        let case = Box::new(CaseState { id, ent, plan, next: 0 });
        let rec =
            self.enforcement_record(t, &case, Enforcement::Inspection { violations }, agency_idx);
        self.schedule_case(case);
        rec
    }

    fn schedule_case(&mut self, mut case: Box<CaseState>) {
        if let Some(&(at, _)) = case.plan.get(case.next) {
            case.next += 1;
            self.push(at, Ev::Case(case));
        }
    }

    fn case_step(&mut self, t: i64, case: Box<CaseState>) -> GenRecord {
        let kind = case.plan[case.next - 1].1;
        if let Enforcement::Suspension { until } = kind {
            self.push(t, Ev::EnterpriseStatus { ent: case.ent, status: Status::Suspended });
            self.push(until, Ev::EnterpriseStatus { ent: case.ent, status: Status::Operating });
        }
        let agency = self.city.enterprises[case.ent as usize].county;
        let rec = self.enforcement_record(t, &case, kind, agency);
        self.schedule_case(case);
        rec
    }

    fn enforcement_record(
        &mut self,
        t: i64,
        case: &CaseState,
        kind: Enforcement,
        agency: usize,
    ) -> GenRecord {
        let id = self.event_id(Topic::Enforcement);
        let epoch = self.epoch();
        let uscc = &self.city.enterprises[case.ent as usize].uscc;
        let f = records::enforcement(kind, &case.id, &self.agencies[agency], uscc, &id, t, epoch);
        Self::record(Topic::Enforcement, uscc, &f, t)
    }

    // ---- rescue ----

    fn new_incident(&mut self, t: i64) -> GenRecord {
        self.next_incident += 1;
        let id = format!("INC-{}-{:06}", self.cfg.seed, self.next_incident);
        let rng = &mut self.rng;
        let ent = if rng.chance(PUBLIC_INCIDENT_SHARE) {
            None
        } else {
            self.accident_picker.pick(rng).map(|i| i as u32)
        };
        let region_code = match ent {
            Some(i) => self.city.enterprises[i as usize].region_code.clone(),
            None => {
                let c = &self.city.counties[rng.below(self.city.counties.len() as u64) as usize];
                let (town, _, _) = &c.towns[rng.below(c.towns.len() as u64) as usize];
                format!("{town}{:03}", rng.range(1, 30))
            }
        };
        let delay = match rng.weighted(&[85, 10, 5]) {
            0 => rng.range(2 * MINUTE, 30 * MINUTE),
            1 => rng.range(30 * MINUTE, 60 * MINUTE),
            _ => rng.range(61 * MINUTE, 5 * HOUR),
        };
        let deaths = rng.table(&[(0u32, 960), (1, 25), (2, 10), (3, 3), (4, 1), (5, 1)]);
        let serious = rng.table(&[(0u32, 80), (1, 12), (2, 5), (3, 2), (4, 1)]);
        let minor = rng.table(&[(0u32, 35), (1, 30), (2, 20), (3, 8), (4, 4), (6, 3)]);
        let loss = (10f64.powf(rng.uniform(3.5, 6.5)) / 100.0).round() * 100.0;
        let public_impact = rng.chance(if ent.is_none() { 0.6 } else { 0.1 });
        let mut plan = Vec::new();
        if deaths == 0 && serious == 0 && rng.chance(0.5) {
            let controlled = t + rng.range(HOUR, 6 * HOUR);
            plan.push((controlled, "controlled"));
            plan.push((controlled + rng.range(6 * HOUR, 48 * HOUR), "closed"));
        } else {
            let responding = t + rng.range(20 * MINUTE, 2 * HOUR);
            let controlled = responding + rng.range(HOUR, 8 * HOUR);
            plan.push((responding, "responding"));
            plan.push((controlled, "controlled"));
            plan.push((controlled + rng.range(12 * HOUR, 48 * HOUR), "closed"));
        }
        let inc = Box::new(IncidentState {
            id,
            ent,
            region_code,
            accident_type: rng.table(&ACCIDENT_MIX),
            occurred_at: t - delay,
            reported_at: t,
            deaths,
            serious,
            minor,
            loss,
            public_impact,
            revision: 0,
            plan,
            next: 0,
        });
        self.incident_record(t, inc, "reported")
    }

    fn incident_revision(&mut self, t: i64, mut inc: Box<IncidentState>) -> GenRecord {
        let rng = &mut self.rng;
        inc.revision += 1;
        if rng.chance(0.2) {
            inc.minor += rng.range(1, 2) as u32;
        }
        if rng.chance(0.08) {
            inc.serious += 1;
        }
        if inc.serious > 0 && rng.chance(0.05) {
            inc.serious -= 1;
            inc.deaths += 1;
        }
        if rng.chance(0.5) {
            inc.loss = (inc.loss * rng.uniform(1.0, 1.3) / 100.0).round() * 100.0;
        }
        let status = inc.plan[inc.next - 1].1;
        self.incident_record(t, inc, status)
    }

    fn incident_record(
        &mut self,
        t: i64,
        mut inc: Box<IncidentState>,
        status: &'static str,
    ) -> GenRecord {
        let id = self.event_id(Topic::Rescue);
        let epoch = self.epoch();
        let uscc = inc.ent.map(|i| self.city.enterprises[i as usize].uscc.as_str());
        let v = IncidentVersion {
            incident_id: &inc.id,
            region_code: &inc.region_code,
            uscc,
            accident_type: inc.accident_type,
            occurred_at: inc.occurred_at,
            reported_at: inc.reported_at,
            deaths: inc.deaths,
            serious_injuries: inc.serious,
            minor_injuries: inc.minor,
            direct_loss_cny: inc.loss,
            public_impact: inc.public_impact,
            status,
            revision: inc.revision,
        };
        let f = records::rescue(&v, &id, t, epoch);
        let rec = Self::record(Topic::Rescue, uscc.unwrap_or(&inc.region_code), &f, t);
        if let Some(&(at, _)) = inc.plan.get(inc.next) {
            inc.next += 1;
            self.push(at, Ev::Incident(inc));
        }
        rec
    }
}

impl Iterator for Generator {
    type Item = GenRecord;

    fn next(&mut self) -> Option<GenRecord> {
        if let Some(r) = self.pending.take() {
            return Some(r);
        }
        while let Some(Sched { t, ev, .. }) = self.heap.pop() {
            if t >= self.end_ms {
                self.heap.clear();
                return None;
            }
            if let Some(rec) = self.handle(t, ev) {
                if self.bad.roll() {
                    self.pending = Some(self.bad.make(t, &self.city));
                }
                return Some(rec);
            }
        }
        None
    }
}

/// The prefix of the event ids of a topic.
pub(crate) fn topic_prefix(topic: Topic) -> &'static str {
    match topic {
        Topic::Enterprise => "ent",
        Topic::Hazard => "haz",
        Topic::Enforcement => "enf",
        Topic::Monitoring => "mon",
        Topic::Rescue => "res",
    }
}

fn hours(h: f64) -> i64 {
    (h * HOUR as f64).round().min(1e15) as i64
}

fn days(rng: &mut Rng, lo: f64, hi: f64) -> i64 {
    (rng.uniform(lo, hi) * DAY as f64).round() as i64
}

/// A fine of 5,000..500,000 CNY, log-uniform, in whole hundreds.
fn fine(rng: &mut Rng) -> f64 {
    let v = rng.uniform(5_000f64.ln(), 500_000f64.ln()).exp();
    ((v / 100.0).round() * 100.0).clamp(5_000.0, 500_000.0)
}

/// The later states of a hazard and when they are reached.
fn hazard_plan(
    rng: &mut Rng,
    major: bool,
    found_by: &str,
    found: i64,
    deadline: Option<i64>,
) -> Vec<(i64, &'static str)> {
    if !major && found_by == "self" && rng.chance(0.25) {
        // Put right on the spot.
        return vec![(found + rng.range(2 * HOUR, 48 * HOUR), "closed")];
    }
    let overdue = deadline.is_some() && rng.chance(if major { 0.3 } else { 0.15 });
    let window = match deadline {
        Some(d) => d - found,
        None => rng.range(10, 40) * DAY,
    };
    let frac = |rng: &mut Rng, lo: f64, hi: f64| (window as f64 * rng.uniform(lo, hi)) as i64;
    let (rectifying, pending) = match deadline {
        Some(d) if overdue => {
            let r = d + days(rng, 1.0, 20.0);
            (r, r + days(rng, 2.0, 15.0))
        }
        _ => {
            let r = found + frac(rng, 0.02, 0.3).max(HOUR);
            (r, (found + frac(rng, 0.5, 0.95)).max(r + 12 * HOUR))
        }
    };
    let accepted = pending + days(rng, 0.5, 4.0);
    let mut plan =
        vec![(rectifying, "rectifying"), (pending, "pending_acceptance"), (accepted, "accepted")];
    if rng.chance(0.6) {
        plan.push((accepted + days(rng, 0.5, 3.0), "closed"));
    }
    plan
}

/// Advances a sensor by one reading and returns the measured value.
fn step_sensor(p: &Point, s: &mut Sensor, rng: &mut Rng, t: i64, period: i64) -> f64 {
    if let Some(end) = s.exc_end
        && t >= end
    {
        s.exc_end = None;
        s.target = p.nominal;
    }
    if s.exc_end.is_none() && t >= s.next_exc {
        let dur = match rng.weighted(&[70, 25, 5]) {
            0 => rng.range(MINUTE, 8 * MINUTE),
            1 => rng.range(8 * MINUTE, 30 * MINUTE),
            _ => rng.range(30 * MINUTE, 90 * MINUTE),
        }
        .max(5 * period);
        s.exc_end = Some(t + dur);
        s.target = excursion_target(p, rng);
        s.fast = true;
        s.next_exc = t + dur + hours(rng.exp(EXCURSION_MEAN_H));
    }
    if p.kind.flatline_applicable() && t >= s.next_flat && t >= s.flat_until {
        s.flat_until = t + rng.range(60 * MINUTE, 240 * MINUTE);
        s.flat_value = s.x;
        s.next_flat = s.flat_until + hours(rng.exp(FLATLINE_MEAN_H));
    }
    let theta = if s.fast { 0.6 } else { 0.08 };
    s.x += theta * (s.target - s.x) + 0.3 * p.scale * rng.normal();
    if let Some(floor) = p.floor {
        s.x = s.x.max(floor);
    }
    if s.fast && s.exc_end.is_none() && (s.x - p.nominal).abs() < 3.0 * p.scale {
        s.fast = false;
    }
    let v = if t < s.flat_until {
        s.flat_value
    } else {
        let v = s.x + 0.3 * p.scale * rng.normal();
        p.floor.map_or(v, |f| v.max(f))
    };
    // Adding 0.0 turns a negative zero into a positive one.
    v + 0.0
}

/// Where an alarm excursion takes a point: past H (or L), sometimes past HH (or LL).
fn excursion_target(p: &Point, rng: &mut Rng) -> f64 {
    let severe = rng.chance(0.25);
    match p.low {
        Some(low) if rng.chance(p.low_side) => {
            let ll = p.low_low.unwrap_or(low - 0.5 * (p.nominal - low));
            let gap = (low - ll).max(1e-3);
            if severe && p.low_low.is_some() {
                ll - rng.uniform(0.1, 0.5) * gap
            } else {
                low - rng.uniform(0.4, 0.85) * gap
            }
        }
        _ => {
            let high = p.high.unwrap_or(p.nominal * 1.2 + 1.0);
            let hh = p.high_high.unwrap_or(high + 0.5 * (high - p.nominal));
            let gap = (hh - high).max(1e-3);
            if severe && p.high_high.is_some() {
                hh + rng.uniform(0.1, 0.5) * gap
            } else {
                high + rng.uniform(0.3, 0.8) * gap
            }
        }
    }
}
