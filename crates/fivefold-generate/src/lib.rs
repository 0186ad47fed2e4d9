//! Deterministic synthetic records for the five Fivefold topics, at municipal scale.
//!
//! The generator simulates a city (苏州, prefix `3205`) of `--enterprises`
//! enterprises for `--hours` of event time and yields one JSON object per record,
//! in the wire format of `contract/records.md`, in non-decreasing event time
//! across all five topics.
//!
//! # What is generated
//!
//! * **City.** Six counties (吴中, 相城, 吴江, 常熟, 张家港, 昆山), each with 8-15 towns;
//!   every enterprise sits in a village/community of a town (`region_code` = 9-digit
//!   town + 3 digits). Industry mix: commercial 30 %, other_industrial 25 %, hazchem_use
//!   12 %, hazchem_storage 7 %, hazchem_production 6 %, dust_explosion 6 %,
//!   metallurgy 5 %, non_coal_mine 4 %, ammonia_refrigeration 3 %, fireworks 2 %.
//!   USCCs are `91` + the county's division + 9 characters + the GB 32100 check
//!   character, unique per enterprise.
//! * **`enterprise`.** One version per enterprise at the start; a re-version (head
//!   count or standardisation grade) about once per enterprise per 90 days; a
//!   `suspended` version when an enforcement suspension starts and an `operating`
//!   one when it ends.
//! * **`monitoring`.** Enterprises of the monitored industries (everything except
//!   commercial and other_industrial) get 2-3 points (hazchem_production and
//!   non_coal_mine 3-8). One `point` registry record per point at the start, then a
//!   `reading` every `expected_period_s` (10-60 s, ±3 % jitter): a mean-reverting
//!   random walk around the nominal value, an alarm excursion past H/L (a quarter
//!   of them past HH/LL) about once per point per 3 days, an offline spell of
//!   10-60 min about once per 5 days (half of them silent gaps, half `comm_fail`
//!   readings with a null value) and, on flatline-applicable points, a stuck value
//!   for 1-4 h about once per 10 days. About 5 % of readings carry an `event_id`.
//! * **`hazard`.** About 4 per enterprise per year (more in hazardous industries),
//!   1 % major; each moves through `open`, `rectifying`, `pending_acceptance`,
//!   `accepted` (and often `closed`) over days, one record per state; some stay
//!   open past their deadline. Hazards found in the 60 days before the start that
//!   are still open are emitted at the start (the backlog a hub inherits).
//! * **`enforcement`.** Inspections (1-4 per enterprise per year by industry) with
//!   0-5 violations, followed by orders, rechecks, penalties and rare suspensions
//!   under the same `case_id`. Records carry an `agency` field the contract does not
//!   list (it lands in `extra`).
//! * **`rescue`.** About 1 incident per 200 enterprises per month (a fifth in public
//!   areas, keyed by `region_code`), revised to `responding`, `controlled` and
//!   `closed` over the following hours with updated casualties and losses.
//! * **Bad records.** With `bad_ratio` > 0, each good record is followed by a bad
//!   one with that probability; see [`BadClass`].
//!
//! About 3 % of records write their timestamps as integer epoch milliseconds; the
//! rest use RFC 3339 with `+08:00`.
//!
//! # Volume
//!
//! Readings dominate: about 1.5 points per enterprise (2,000 enterprises have about
//! 3,000 points), read every 30 s on (harmonic) average, so roughly 4,000 readings
//! per enterprise per day. Measured with seed 7:
//!
//! | run | records | JSON lines |
//! |---|---|---|
//! | `--enterprises 200 --hours 1` | 34 k | 6 MB |
//! | `--enterprises 200 --hours 24` | 0.80 M | 132 MB |
//! | `--enterprises 2000 --hours 24` | 8.0 M | 1.3 GB |
//!
//! Of the 8.0 M, about 2,000 are enterprise versions, 450 hazard versions (mostly
//! the backlog), 20 enforcement records and, on average, 0.3 rescue records: the
//! slow topics follow real-world rates, so short runs hold few of them. The
//! generator makes about 1.3 M records per second on one core.
//!
//! Memory depends on the number of enterprises and points, not on the hours: the
//! generator keeps one scheduled event per point and per live hazard, case and
//! incident in a heap and never materialises the output.
//!
//! # Determinism
//!
//! All randomness comes from a hand-written xoshiro256** seeded by splitmix64
//! from [`GenConfig::seed`]; nothing depends on hash order, time or the platform.
//! The same configuration yields byte-identical records, and the good records do
//! not depend on `bad_ratio` (bad records draw from their own stream).
//!
//! # Example
//!
//! ```
//! use fivefold_generate::{GenConfig, Generator};
//!
//! let cfg = GenConfig { enterprises: 20, hours: 0.1, ..GenConfig::default() };
//! let records: Vec<_> = Generator::new(cfg).unwrap().collect();
//! assert!(records.windows(2).all(|w| w[0].event_time_ms <= w[1].event_time_ms));
//! ```

mod bad;
mod city;
mod generator;
mod json;
mod records;
mod rng;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use fivefold_model::Topic;

pub use generator::Generator;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Number of enterprises in the city (`--enterprises`), at least 1.
    pub enterprises: u32,
    /// Hours of event time to cover (`--hours`), positive.
    pub hours: f64,
    /// Seed of every random choice (`--seed`).
    pub seed: u64,
    /// Expected bad records per good record (`--bad-ratio`), in `0..=1`.
    pub bad_ratio: f64,
    /// Event time of the first records, epoch milliseconds.
    pub start_ms: i64,
}

/// 2026-03-01T00:00:00+08:00 in epoch milliseconds.
pub const DEFAULT_START_MS: i64 = 1_772_294_400_000;

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            enterprises: 200,
            hours: 24.0,
            seed: 1,
            bad_ratio: 0.0,
            start_ms: DEFAULT_START_MS,
        }
    }
}

impl GenConfig {
    /// Checks the ranges; the message names the command-line flag.
    ///
    /// # Errors
    ///
    /// [`GenError::Config`] for the first value out of range.
    pub fn validate(&self) -> Result<(), GenError> {
        if self.enterprises < 1 {
            return Err(GenError::Config(format!(
                "--enterprises must be at least 1, got {}",
                self.enterprises
            )));
        }
        if !(self.hours.is_finite() && self.hours > 0.0) {
            return Err(GenError::Config(format!(
                "--hours must be a positive finite number, got {}",
                self.hours
            )));
        }
        if !(0.0..=1.0).contains(&self.bad_ratio) {
            return Err(GenError::Config(format!(
                "--bad-ratio must be between 0 and 1, got {}",
                self.bad_ratio
            )));
        }
        Ok(())
    }
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// An invalid configuration value; the message names the flag.
    #[error("{0}")]
    Config(String),
    /// Writing an output file or creating the output directory failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// One record for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenRecord {
    /// The topic it belongs to.
    pub topic: Topic,
    /// The Kafka key: the `uscc`, or the `region_code` for rescue records without an enterprise.
    pub key: String,
    /// One JSON object without a trailing newline; for bad records, whatever bytes
    /// the class needs (never a newline byte).
    pub payload: Vec<u8>,
    /// The event time (for bad records, when they were emitted), epoch milliseconds.
    pub event_time_ms: i64,
    /// For deliberately malformed records, how they are malformed.
    pub bad: Option<BadClass>,
}

/// How a deliberately malformed record is malformed; each is invalid in exactly this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadClass {
    /// Not JSON: a truncated object, single quotes, a trailing comma, or not even UTF-8.
    NotJson,
    /// JSON, but not an object (`[1,2,3]`, `"text"`, `42`, ...).
    NotObject,
    /// A required field is missing.
    MissingField,
    /// A field has the wrong JSON type (`"employees":"many"`, `"deaths":"2"`).
    WrongType,
    /// A value that is not in its enum (`"industry":"chemicals"`, `"quality":"ok"`).
    BadEnum,
    /// A timestamp that does not parse (`"2026-13-45 25:00"`).
    BadTimestamp,
    /// A `uscc` of the wrong shape (length, characters `I O S V Z`, letters in 3-8).
    BadUscc,
    /// A number out of range (`"major_hazard_level":7`, `"deaths":-1`), or a
    /// description over 4000 characters.
    OutOfRange,
    /// An otherwise valid record over 1 MiB (1,048,576 bytes). At most 1 bad record
    /// in 500, and at least one whenever 50 or more bad records are made.
    TooLarge,
    /// An otherwise valid record with `"schema_version": 2`.
    NewerSchemaVersion,
}

impl BadClass {
    /// Every class.
    pub const ALL: [BadClass; 10] = [
        BadClass::NotJson,
        BadClass::NotObject,
        BadClass::MissingField,
        BadClass::WrongType,
        BadClass::BadEnum,
        BadClass::BadTimestamp,
        BadClass::BadUscc,
        BadClass::OutOfRange,
        BadClass::TooLarge,
        BadClass::NewerSchemaVersion,
    ];

    /// The snake_case name, e.g. `not_json`.
    pub fn name(self) -> &'static str {
        self.error_class().as_str()
    }

    /// The class the validator gives a record malformed this way.
    pub fn error_class(self) -> fivefold_model::ErrorClass {
        use fivefold_model::ErrorClass as E;
        match self {
            BadClass::NotJson => E::NotJson,
            BadClass::NotObject => E::NotObject,
            BadClass::MissingField => E::MissingField,
            BadClass::WrongType => E::WrongType,
            BadClass::BadEnum => E::BadEnum,
            BadClass::BadTimestamp => E::BadTimestamp,
            BadClass::BadUscc => E::BadUscc,
            BadClass::OutOfRange => E::OutOfRange,
            BadClass::TooLarge => E::TooLarge,
            BadClass::NewerSchemaVersion => E::NewerSchemaVersion,
        }
    }

    /// The class of a snake_case name.
    pub fn from_name(name: &str) -> Option<BadClass> {
        BadClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The position in [`BadClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counts of generated records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Good records per topic, indexed like [`Topic::ALL`].
    pub good: [u64; 5],
    /// Bad records per topic, indexed like [`Topic::ALL`].
    pub bad: [u64; 5],
    /// Bad records per class, indexed like [`BadClass::ALL`].
    pub bad_by_class: [u64; 10],
}

impl GenSummary {
    /// Counts one record.
    pub fn record(&mut self, r: &GenRecord) {
        let t = r.topic.index();
        match r.bad {
            None => self.good[t] += 1,
            Some(c) => {
                self.bad[t] += 1;
                self.bad_by_class[c.index()] += 1;
            }
        }
    }

    /// All records counted.
    pub fn total(&self) -> u64 {
        self.good_total() + self.bad_total()
    }

    /// Good records counted.
    pub fn good_total(&self) -> u64 {
        self.good.iter().sum()
    }

    /// Bad records counted.
    pub fn bad_total(&self) -> u64 {
        self.bad.iter().sum()
    }
}

/// How often [`write_files`] reports progress.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// Writes `<dir>/<topic>.jsonl` for all five topics (creating `dir`), one record
/// per line, and returns the summary.
///
/// `progress` is called every [`PROGRESS_EVERY`] (64 Ki) records with the count so
/// far, and once more at the end with the final count.
///
/// # Errors
///
/// [`GenError::Io`] naming the directory or file that could not be written.
pub fn write_files(
    generator: Generator,
    dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<GenSummary, GenError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| GenError::Io { path: dir.to_path_buf(), source })?;
    let mut files = Vec::with_capacity(Topic::ALL.len());
    for topic in Topic::ALL {
        let path = dir.join(format!("{}.jsonl", topic.name()));
        let file =
            File::create(&path).map_err(|source| GenError::Io { path: path.clone(), source })?;
        files.push((path, BufWriter::with_capacity(1 << 20, file)));
    }
    let mut summary = GenSummary::default();
    let mut n = 0u64;
    for rec in generator {
        let (path, w) = &mut files[rec.topic.index()];
        w.write_all(&rec.payload)
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|source| GenError::Io { path: path.clone(), source })?;
        summary.record(&rec);
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY) {
            progress(n);
        }
    }
    for (path, mut w) in files {
        w.flush().map_err(|source| GenError::Io { path, source })?;
    }
    if !n.is_multiple_of(PROGRESS_EVERY) {
        progress(n);
    }
    Ok(summary)
}
