//! The synthetic city: counties, towns, enterprises and their sensor points.
//!
//! Everything here is drawn once, when the generator is built; the event
//! processes in [`crate::generator`] then only read it (and re-version
//! enterprises now and then).

use std::collections::BTreeSet;

use fivefold_model::spec::{INDUSTRIES, POINT_KINDS};
use fivefold_model::uscc::{CHARSET, check_char};

use crate::rng::Rng;

/// The prefix of every region code: 苏州市.
#[cfg(test)]
pub(crate) const CITY_PREFIX: &str = "3205";

/// `(code, short name, 区 or 市, lon, lat)` of the counties the enterprises are spread over.
const COUNTIES: [(&str, &str, &str, f64, f64); 6] = [
    ("320506", "吴中", "区", 120.63, 31.26),
    ("320507", "相城", "区", 120.64, 31.37),
    ("320509", "吴江", "区", 120.65, 31.14),
    ("320581", "常熟", "市", 120.75, 31.65),
    ("320582", "张家港", "市", 120.55, 31.87),
    ("320583", "昆山", "市", 120.98, 31.38),
];
/// Relative number of enterprises per county, in the order of [`COUNTIES`].
const COUNTY_WEIGHTS: [u32; 6] = [18, 12, 16, 16, 18, 20];

/// Syllables the brand part of a company name is composed from.
const BRAND: &[&str] = &[
    "华", "鑫", "盛", "泰", "恒", "丰", "宏", "源", "达", "通", "新", "瑞", "兴", "隆", "嘉", "德",
    "远", "明", "金", "辉", "永", "安", "宇", "昌", "茂", "祥", "润", "博", "凯", "峰", "中", "正",
];

/// A county (6-digit code) and its towns.
#[derive(Debug, Clone)]
pub(crate) struct County {
    /// Short name, e.g. `吴中`.
    pub(crate) name: &'static str,
    /// The county's emergency-management bureau, e.g. `吴中区应急管理局`.
    pub(crate) agency: String,
    /// 9-digit town codes and their centres `(lon, lat)`.
    pub(crate) towns: Vec<(String, f64, f64)>,
}

/// The industries of `enterprise.industry`, in the order of [`INDUSTRIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Industry {
    HazchemProduction,
    HazchemStorage,
    HazchemUse,
    Fireworks,
    NonCoalMine,
    Metallurgy,
    DustExplosion,
    AmmoniaRefrigeration,
    OtherIndustrial,
    Commercial,
}

impl Industry {
    /// Every industry with its share of enterprises (per mille).
    pub(crate) const MIX: [(Industry, u32); 10] = [
        (Industry::HazchemProduction, 60),
        (Industry::HazchemStorage, 70),
        (Industry::HazchemUse, 120),
        (Industry::Fireworks, 20),
        (Industry::NonCoalMine, 40),
        (Industry::Metallurgy, 50),
        (Industry::DustExplosion, 60),
        (Industry::AmmoniaRefrigeration, 30),
        (Industry::OtherIndustrial, 250),
        (Industry::Commercial, 300),
    ];

    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        INDUSTRIES[self as usize]
    }

    /// True for industries whose enterprises have online monitoring.
    pub(crate) fn monitored(self) -> bool {
        !matches!(self, Industry::OtherIndustrial | Industry::Commercial)
    }

    /// Relative rate of hazards found (about 1 on average over the mix).
    pub(crate) fn hazard_factor(self) -> f64 {
        match self {
            Industry::HazchemProduction => 1.6,
            Industry::NonCoalMine => 1.5,
            Industry::HazchemStorage | Industry::Fireworks => 1.4,
            Industry::HazchemUse
            | Industry::Metallurgy
            | Industry::DustExplosion
            | Industry::AmmoniaRefrigeration => 1.2,
            Industry::OtherIndustrial => 0.9,
            Industry::Commercial => 0.6,
        }
    }

    /// Inspections per year.
    pub(crate) fn inspections_per_year(self) -> f64 {
        match self {
            Industry::HazchemProduction
            | Industry::HazchemStorage
            | Industry::HazchemUse
            | Industry::Fireworks
            | Industry::NonCoalMine => 4.0,
            Industry::Metallurgy | Industry::DustExplosion | Industry::AmmoniaRefrigeration => 3.0,
            Industry::OtherIndustrial => 1.6,
            Industry::Commercial => 1.0,
        }
    }

    /// Relative rate of accidents.
    pub(crate) fn accident_factor(self) -> f64 {
        match self {
            Industry::HazchemProduction
            | Industry::NonCoalMine
            | Industry::Metallurgy
            | Industry::Fireworks => 2.0,
            Industry::HazchemStorage
            | Industry::HazchemUse
            | Industry::DustExplosion
            | Industry::AmmoniaRefrigeration => 1.5,
            Industry::OtherIndustrial => 1.0,
            Industry::Commercial => 0.6,
        }
    }

    fn name_words(self) -> &'static [&'static str] {
        match self {
            Industry::HazchemProduction => &["化工", "精细化工", "石油化工", "化学", "农药化工"],
            Industry::HazchemStorage => &["危险品仓储", "化工物流", "石化储运", "港务储运"],
            Industry::HazchemUse => &["新材料", "电子材料", "涂料", "医药", "表面处理"],
            Industry::Fireworks => &["烟花爆竹", "花炮"],
            Industry::NonCoalMine => &["矿业", "石料", "建材矿业"],
            Industry::Metallurgy => &["钢铁", "金属制品", "特钢", "铝业", "铸造"],
            Industry::DustExplosion => &["木业", "粉末冶金", "铝制品", "面粉", "家具"],
            Industry::AmmoniaRefrigeration => &["冷链物流", "冷冻食品", "水产食品"],
            Industry::OtherIndustrial => {
                &["机械", "纺织", "电子", "精密制造", "汽车零部件", "印染", "包装"]
            }
            Industry::Commercial => &["商贸", "百货", "购物中心", "酒店管理", "超市", "物业管理"],
        }
    }
}

/// `enterprise.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Operating,
    Suspended,
    Closed,
}

impl Status {
    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Status::Operating => "operating",
            Status::Suspended => "suspended",
            Status::Closed => "closed",
        }
    }
}

/// One enterprise, as of its latest version.
#[derive(Debug, Clone)]
pub(crate) struct Enterprise {
    pub(crate) uscc: String,
    pub(crate) region_code: String,
    pub(crate) county: usize,
    pub(crate) name: String,
    pub(crate) industry: Industry,
    pub(crate) major_hazard_level: u8,
    pub(crate) major_hazard_units: u8,
    pub(crate) hazardous_processes: u8,
    pub(crate) standardization_grade: u8,
    pub(crate) own_rescue_team: bool,
    pub(crate) employees: u32,
    pub(crate) status: Status,
    pub(crate) lon_lat: Option<(f64, f64)>,
    pub(crate) official_color: Option<&'static str>,
}

/// `monitoring_point.kind`, in the order of [`POINT_KINDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PointKind {
    CombustibleGas,
    ToxicGas,
    Oxygen,
    Temperature,
    Pressure,
    Level,
    Flow,
}

impl PointKind {
    /// Every kind.
    pub(crate) const ALL: [PointKind; 7] = [
        PointKind::CombustibleGas,
        PointKind::ToxicGas,
        PointKind::Oxygen,
        PointKind::Temperature,
        PointKind::Pressure,
        PointKind::Level,
        PointKind::Flow,
    ];

    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        POINT_KINDS[self as usize]
    }

    /// The engineering unit.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            PointKind::CombustibleGas => "%LEL",
            PointKind::ToxicGas => "ppm",
            PointKind::Oxygen => "%VOL",
            PointKind::Temperature => "degC",
            PointKind::Pressure => "MPa",
            PointKind::Level => "m",
            PointKind::Flow => "m3/h",
        }
    }

    /// The tag in the point id (instrument letters).
    fn tag(self) -> &'static str {
        match self {
            PointKind::CombustibleGas => "GT",
            PointKind::ToxicGas => "AT",
            PointKind::Oxygen => "OT",
            PointKind::Temperature => "TT",
            PointKind::Pressure => "PT",
            PointKind::Level => "LT",
            PointKind::Flow => "FT",
        }
    }

    /// True where a healthy value keeps moving, so a stuck value means a fault.
    pub(crate) fn flatline_applicable(self) -> bool {
        matches!(
            self,
            PointKind::Temperature | PointKind::Pressure | PointKind::Level | PointKind::Flow
        )
    }

    /// Relative frequency of each kind in an industry, in the order of [`PointKind::ALL`].
    fn mix(industry: Industry) -> [u32; 7] {
        match industry {
            Industry::HazchemProduction => [30, 15, 0, 15, 15, 15, 10],
            Industry::HazchemStorage => [35, 10, 0, 10, 15, 30, 0],
            Industry::HazchemUse => [40, 15, 0, 15, 15, 15, 0],
            Industry::Fireworks => [30, 0, 0, 70, 0, 0, 0],
            Industry::NonCoalMine => [25, 20, 25, 0, 10, 10, 10],
            Industry::Metallurgy => [30, 25, 0, 25, 10, 0, 10],
            Industry::DustExplosion => [0, 0, 0, 40, 30, 0, 30],
            Industry::AmmoniaRefrigeration => [0, 60, 0, 20, 20, 0, 0],
            Industry::OtherIndustrial | Industry::Commercial => [1, 0, 0, 0, 0, 0, 0],
        }
    }
}

/// A sensor point of the registry, with what the simulation needs to drive its readings.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    /// Index of the enterprise in [`City::enterprises`].
    pub(crate) ent: u32,
    pub(crate) id: String,
    pub(crate) kind: PointKind,
    pub(crate) unit_level: Option<u8>,
    pub(crate) low_low: Option<f64>,
    pub(crate) low: Option<f64>,
    pub(crate) high: Option<f64>,
    pub(crate) high_high: Option<f64>,
    pub(crate) period_s: u32,
    /// The value in normal operation.
    pub(crate) nominal: f64,
    /// The size of normal fluctuations.
    pub(crate) scale: f64,
    /// Decimals the value is written with.
    pub(crate) decimals: usize,
    /// Smallest physically possible value.
    pub(crate) floor: Option<f64>,
    /// Probability that an alarm excursion goes to the low side.
    pub(crate) low_side: f64,
}

impl Point {
    /// Decimals of the set points.
    pub(crate) fn set_point_decimals(&self) -> usize {
        if self.kind == PointKind::Pressure { 3 } else { 2 }
    }
}

/// The whole synthetic city.
#[derive(Debug, Clone)]
pub(crate) struct City {
    pub(crate) counties: Vec<County>,
    pub(crate) enterprises: Vec<Enterprise>,
    pub(crate) points: Vec<Point>,
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

impl City {
    /// Draws a city of `n` enterprises.
    pub(crate) fn build(n: u32, rng: &mut Rng) -> City {
        let counties: Vec<County> = COUNTIES
            .iter()
            .map(|&(code, name, kind, lon, lat)| {
                let n_towns = rng.range(8, 15) as usize;
                let towns = (0..n_towns)
                    .map(|i| {
                        // 街道 are numbered 001.., 镇 100..; mix both like the real tables.
                        let suffix = if i < n_towns / 3 { 1 + i } else { 100 + i };
                        let t_lon = lon + 0.05 * rng.normal();
                        let t_lat = lat + 0.04 * rng.normal();
                        (format!("{code}{suffix:03}"), t_lon, t_lat)
                    })
                    .collect();
                County { name, agency: format!("{name}{kind}应急管理局"), towns }
            })
            .collect();
        let mut used = BTreeSet::new();
        let mut enterprises = Vec::with_capacity(n as usize);
        for _ in 0..n {
            enterprises.push(new_enterprise(&counties, &mut used, rng));
        }
        let mut points = Vec::new();
        for (i, e) in enterprises.iter().enumerate() {
            if !e.industry.monitored() || e.status == Status::Closed {
                continue;
            }
            let count = match e.industry {
                Industry::HazchemProduction | Industry::NonCoalMine => rng.range(3, 8),
                _ => rng.range(2, 3),
            };
            for k in 1..=count {
                points.push(new_point(i as u32, e, k as u32, rng));
            }
        }
        City { counties, enterprises, points }
    }
}

/// A unique USCC: `91` (enterprise, company), the 6-digit division of the county,
/// 9 characters of organisation code and the GB 32100 check character.
fn new_uscc(division: &str, used: &mut BTreeSet<String>, rng: &mut Rng) -> String {
    loop {
        let mut code: Vec<u8> = Vec::with_capacity(18);
        code.extend_from_slice(b"91");
        code.extend_from_slice(division.as_bytes());
        for _ in 0..9 {
            code.push(rng.pick(CHARSET.as_slice()));
        }
        let Some(check) = check_char(&code) else {
            continue;
        };
        code.push(check);
        let code = String::from_utf8(code).unwrap_or_default();
        if code.len() == 18 && used.insert(code.clone()) {
            return code;
        }
    }
}

fn new_enterprise(counties: &[County], used: &mut BTreeSet<String>, rng: &mut Rng) -> Enterprise {
    use Industry::*;
    let county = rng.weighted(&COUNTY_WEIGHTS);
    let county_code = COUNTIES[county].0;
    let towns = &counties[county].towns;
    let (town, t_lon, t_lat) = &towns[rng.below(towns.len() as u64) as usize];
    let region_code = format!("{town}{:03}", rng.range(1, 30));
    let industry = rng.table(&Industry::MIX);

    let p_major = match industry {
        HazchemProduction => 0.5,
        HazchemStorage => 0.6,
        HazchemUse => 0.2,
        NonCoalMine => 0.35,
        Fireworks => 0.4,
        _ => 0.0,
    };
    let (major_hazard_level, major_hazard_units) = if rng.chance(p_major) {
        (
            rng.table(&[(1u8, 10), (2, 20), (3, 35), (4, 35)]),
            rng.table(&[(1u8, 60), (2, 28), (3, 12)]),
        )
    } else {
        (0, 0)
    };
    let hazardous_processes = if industry == HazchemProduction {
        rng.table(&[(0u8, 25), (1, 35), (2, 25), (3, 15)])
    } else {
        0
    };
    let standardization_grade = if industry == Commercial {
        rng.table(&[(0u8, 70), (1, 2), (2, 8), (3, 20)])
    } else {
        rng.table(&[(0u8, 25), (1, 5), (2, 30), (3, 40)])
    };
    let p_team = match industry {
        HazchemProduction | NonCoalMine => 0.45,
        HazchemStorage | Metallurgy => 0.3,
        OtherIndustrial => 0.05,
        Commercial => 0.03,
        _ => 0.12,
    };
    let own_rescue_team = rng.chance(p_team);
    let median = match industry {
        Commercial => 60.0,
        OtherIndustrial | HazchemUse => 120.0,
        HazchemProduction | NonCoalMine => 220.0,
        Metallurgy => 400.0,
        _ => 90.0,
    };
    let employees = (median * (0.9 * rng.normal()).exp()).round().clamp(10.0, 3000.0) as u32;
    let status = rng.table(&[(Status::Operating, 96), (Status::Suspended, 3), (Status::Closed, 1)]);
    let lon_lat = rng.chance(0.95).then(|| {
        (round_to(t_lon + 0.012 * rng.normal(), 6), round_to(t_lat + 0.01 * rng.normal(), 6))
    });
    let official_color =
        rng.chance(0.03).then(|| rng.table(&[("yellow", 40), ("orange", 35), ("red", 25)]));

    let prefix = if rng.chance(0.5) { "苏州" } else { counties[county].name };
    let brand = format!("{}{}", rng.pick(BRAND), rng.pick(BRAND));
    let word = rng.pick(industry.name_words());
    let form = rng.table(&[("有限公司", 80), ("股份有限公司", 12), ("有限责任公司", 8)]);
    let name = format!("{prefix}{brand}{word}{form}");

    Enterprise {
        uscc: new_uscc(county_code, used, rng),
        region_code,
        county,
        name,
        industry,
        major_hazard_level,
        major_hazard_units,
        hazardous_processes,
        standardization_grade,
        own_rescue_team,
        employees,
        status,
        lon_lat,
        official_color,
    }
}

fn new_point(ent: u32, e: &Enterprise, k: u32, rng: &mut Rng) -> Point {
    let kind = PointKind::ALL[rng.weighted(&PointKind::mix(e.industry))];
    let period_s = rng.table(&[(10u32, 5), (15, 5), (20, 10), (30, 40), (60, 40)]);
    let unit_level = (1..=4).contains(&e.major_hazard_level).then_some(e.major_hazard_level);
    let mut p = Point {
        ent,
        id: format!("{}-{}{k:02}", e.uscc, kind.tag()),
        kind,
        unit_level,
        low_low: None,
        low: None,
        high: None,
        high_high: None,
        period_s,
        nominal: 0.0,
        scale: 1.0,
        decimals: 2,
        floor: Some(0.0),
        low_side: 0.0,
    };
    match kind {
        PointKind::CombustibleGas => {
            p.nominal = round_to(rng.uniform(0.0, 2.0), 1);
            p.scale = 0.25;
            p.decimals = 1;
            p.high = Some(25.0);
            p.high_high = Some(50.0);
        }
        PointKind::ToxicGas => {
            p.decimals = 1;
            if e.industry == Industry::AmmoniaRefrigeration {
                // NH3.
                p.nominal = round_to(rng.uniform(1.0, 6.0), 1);
                p.scale = 0.5;
                p.high = Some(30.0);
                p.high_high = Some(150.0);
            } else {
                // H2S / CO class.
                p.nominal = round_to(rng.uniform(0.2, 2.0), 1);
                p.scale = 0.2;
                p.high = Some(10.0);
                p.high_high = Some(20.0);
            }
        }
        PointKind::Oxygen => {
            p.nominal = 20.9;
            p.scale = 0.05;
            p.low_low = Some(18.0);
            p.low = Some(19.5);
            p.high = Some(23.5);
            p.low_side = 0.85;
        }
        PointKind::Temperature => {
            p.decimals = 1;
            p.floor = None;
            if e.industry == Industry::Fireworks {
                // Warehouse temperature.
                p.nominal = round_to(rng.uniform(15.0, 25.0), 1);
                p.high = Some(35.0);
                p.high_high = Some(40.0);
            } else {
                let n = round_to(rng.uniform(30.0, 150.0), 0);
                p.nominal = n;
                p.low = Some(round_to(n * 0.7, 1));
                p.high = Some(round_to(n * 1.15 + 3.0, 1));
                p.high_high = Some(round_to(n * 1.3 + 5.0, 1));
                p.low_side = 0.1;
            }
            p.scale = 0.004 * p.nominal + 0.2;
        }
        PointKind::Pressure => {
            let n = round_to(rng.uniform(0.3, 4.0), 2);
            p.nominal = n;
            p.scale = 0.004 * n;
            p.decimals = 3;
            p.low = Some(round_to(n * 0.7, 3));
            p.high = Some(round_to(n * 1.2, 3));
            p.high_high = Some(round_to(n * 1.4, 3));
            p.low_side = 0.15;
        }
        PointKind::Level => {
            let n = round_to(rng.uniform(2.0, 10.0), 1);
            p.nominal = n;
            p.scale = 0.005 * n;
            p.low_low = Some(round_to(n * 0.2, 2));
            p.low = Some(round_to(n * 0.4, 2));
            p.high = Some(round_to(n * 1.3, 2));
            p.high_high = Some(round_to(n * 1.45, 2));
            p.low_side = 0.2;
        }
        PointKind::Flow => {
            let n = round_to(rng.uniform(10.0, 300.0), 0);
            p.nominal = n;
            p.scale = 0.006 * n;
            p.decimals = 1;
            p.low = Some(round_to(n * 0.6, 1));
            p.high = Some(round_to(n * 1.3, 1));
            p.high_high = Some(round_to(n * 1.5, 1));
            p.low_side = 0.3;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_spec() {
        for (i, (ind, _)) in Industry::MIX.iter().enumerate() {
            assert_eq!(ind.name(), INDUSTRIES[i]);
        }
        assert_eq!(Industry::MIX.iter().map(|(_, w)| w).sum::<u32>(), 1000);
        for (i, k) in PointKind::ALL.iter().enumerate() {
            assert_eq!(k.name(), POINT_KINDS[i]);
        }
    }

    #[test]
    fn city_is_plausible() {
        let mut rng = Rng::new(3);
        let city = City::build(500, &mut rng);
        assert_eq!(city.enterprises.len(), 500);
        let codes: BTreeSet<&str> = city.enterprises.iter().map(|e| e.uscc.as_str()).collect();
        assert_eq!(codes.len(), 500);
        for e in &city.enterprises {
            assert!(fivefold_model::uscc::check_shape(&e.uscc).is_ok(), "{}", e.uscc);
            assert!(fivefold_model::uscc::checksum_ok(&e.uscc), "{}", e.uscc);
            assert_eq!(e.region_code.len(), 12);
            assert!(e.region_code.starts_with(CITY_PREFIX));
            assert!(e.region_code.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(&e.uscc[2..8], &e.region_code[..6]);
        }
        let per_ent = city.points.len() as f64 / 500.0;
        assert!((0.9..2.5).contains(&per_ent), "{per_ent}");
    }
}
