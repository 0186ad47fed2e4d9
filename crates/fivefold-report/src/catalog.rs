//! What the report shows: the KPI families, their indicators and their labels
//! in Chinese and English.

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Chinese, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Lang, String> {
        match s {
            "zh" | "zh-CN" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            _ => Err(format!("language '{s}' is not one of zh, en")),
        }
    }
}

/// A text in both languages.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// Chinese.
    pub zh: &'static str,
    /// English.
    pub en: &'static str,
}

impl Text {
    /// The text in `lang`.
    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }
}

const fn t(zh: &'static str, en: &'static str) -> Text {
    Text { zh, en }
}

/// How an indicator's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A whole number.
    Count,
    /// Yuan, a whole number.
    Money,
    /// A share, written as a percentage.
    Rate,
    /// A quantity with one decimal.
    Decimal,
}

/// One indicator: a column of a KPI view.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The view's column.
    pub column: &'static str,
    /// Its label.
    pub label: Text,
    /// How it is written.
    pub unit: Unit,
    /// A level at period end (carried forward over periods without a row)
    /// rather than a count over the period (zero in periods without a row).
    pub stock: bool,
}

const fn m(column: &'static str, zh: &'static str, en: &'static str, unit: Unit) -> Metric {
    Metric { column, label: t(zh, en), unit, stock: false }
}

const fn s(column: &'static str, zh: &'static str, en: &'static str) -> Metric {
    Metric { column, label: t(zh, en), unit: Count, stock: true }
}

/// A KPI view and the indicators the report shows from it.
#[derive(Debug)]
pub struct Family {
    /// The view.
    pub view: &'static str,
    /// The section title.
    pub title: Text,
    /// Extra conditions that pick one row per period and region.
    pub filter: &'static str,
    /// The indicators, in table order.
    pub metrics: &'static [Metric],
    /// The column drawn as a trend chart.
    pub trend: &'static str,
}

use Unit::*;

/// The five KPI families, in report order.
pub const FAMILIES: &[Family] = &[
    Family {
        view: "kpi_enforcement",
        title: t("行政执法", "Enforcement"),
        filter: "",
        metrics: &[
            m("inspections", "执法检查（次）", "Inspections", Count),
            m("enterprises_inspected", "检查企业（家）", "Enterprises inspected", Count),
            m("violations", "发现违法行为（项）", "Violations found", Count),
            m("orders", "责令限期整改（次）", "Rectification orders", Count),
            m("penalties", "行政处罚（次）", "Penalties", Count),
            m("fines_cny", "罚款金额（元）", "Fines (CNY)", Money),
            m("suspensions", "责令停产停业整顿（次）", "Suspensions", Count),
            m("rechecks_failed", "复查未通过（次）", "Rechecks failed", Count),
        ],
        trend: "inspections",
    },
    Family {
        view: "kpi_hazards",
        title: t("隐患排查治理", "Hazard investigation and rectification"),
        filter: "",
        metrics: &[
            m("found", "排查隐患（项）", "Hazards found", Count),
            m("found_major", "其中重大隐患（项）", "of which major", Count),
            m("found_by_self", "企业自查发现（项）", "Found by the enterprise", Count),
            m("found_by_government", "执法检查发现（项）", "Found by inspectors", Count),
            m("found_by_third_party", "第三方发现（项）", "Found by third parties", Count),
            m("rectified", "完成整改（项）", "Rectified", Count),
            m("rectified_on_time", "按期整改（项）", "Rectified on time", Count),
            m("rectification_rate", "整改率", "Rectification rate", Rate),
            m("on_time_rate", "按期整改率", "On-time rate", Rate),
            s("overdue_at_end", "期末逾期未整改（项）", "Overdue at period end"),
            s("open_major_at_end", "期末未清零重大隐患（项）", "Open major hazards at period end"),
        ],
        trend: "found",
    },
    Family {
        view: "kpi_accidents",
        title: t("生产安全事故", "Accidents"),
        filter: "AND accident_type = 'all' AND grade = 'all'",
        metrics: &[
            m("incidents", "事故起数（起）", "Incidents", Count),
            m("deaths", "死亡人数（人）", "Deaths", Count),
            m("serious_injuries", "重伤人数（人）", "Serious injuries", Count),
            m("direct_loss_cny", "直接经济损失（元）", "Direct loss (CNY)", Money),
            m("late_reports", "迟报（起）", "Reported over 1 h late", Count),
        ],
        trend: "incidents",
    },
    Family {
        view: "kpi_monitoring",
        title: t("监测预警", "Monitoring and alarms"),
        filter: "",
        metrics: &[
            m("alarm_episodes", "超限报警（次）", "Limit alarms", Count),
            m("hh", "其中高高报（次）", "of which HH", Count),
            m("standing", "长时报警（次）", "Standing alarms", Count),
            m("flood", "报警风暴（次）", "Alarm floods", Count),
            m("offline", "点位离线（次）", "Points offline", Count),
            m("offline_hours", "离线时长（小时）", "Offline hours", Decimal),
            s("points", "监测点位（个）", "Points registered"),
            m(
                "alarms_per_100_points_per_day",
                "百点位日均报警（次）",
                "Alarms per 100 points per day",
                Decimal,
            ),
        ],
        trend: "alarm_episodes",
    },
    Family {
        view: "kpi_risk",
        title: t("风险分级（期末）", "Risk colours (at period end)"),
        filter: "",
        metrics: &[
            s("enterprises", "评估企业（家）", "Enterprises scored"),
            s("n_red", "红色 重大风险（家）", "Red"),
            s("n_orange", "橙色 较大风险（家）", "Orange"),
            s("n_yellow", "黄色 一般风险（家）", "Yellow"),
            s("n_blue", "蓝色 低风险（家）", "Blue"),
            m("moves_worse", "风险升级（次）", "Moves to a worse colour", Count),
            m("moves_better", "风险降级（次）", "Moves to a better colour", Count),
        ],
        trend: "n_red",
    },
];

/// The report's fixed texts.
pub(crate) mod texts {
    use super::{Text, t};

    /// The title.
    pub(crate) const TITLE: Text = t("安全生产风险监测预警报告", "Safety risk monitoring report");
    /// The whole lake.
    pub(crate) const ALL: Text = t("全市", "Whole city");
    /// A county.
    pub(crate) const COUNTY: Text = t("县（市、区）", "County");
    /// A town.
    pub(crate) const TOWN: Text = t("乡镇（街道）", "Town");
    /// Column heads of the KPI tables.
    pub(crate) const INDICATOR: Text = t("指标", "Indicator");
    /// This period.
    pub(crate) const CURRENT: Text = t("本期", "This period");
    /// The previous period.
    pub(crate) const PREVIOUS: Text = t("上期", "Previous period");
    /// The same period a year before.
    pub(crate) const YEAR_BEFORE: Text = t("去年同期", "Same period last year");
    /// The change against the year before.
    pub(crate) const YOY: Text = t("同比", "Change on last year");
    /// The trend chart's caption.
    pub(crate) const TREND: Text = t("趋势", "trend");
    /// Top enterprises.
    pub(crate) const TOP: Text = t("风险最高的十家企业", "The ten highest-risk enterprises");
    /// Towns by colour.
    pub(crate) const TOWNS: Text = t("乡镇（街道）风险分布", "Towns by colour");
    /// Accident breakdown.
    pub(crate) const BY_TYPE: Text = t("按事故类别（GB 6441）", "By accident type (GB 6441)");
    /// Accident breakdown.
    pub(crate) const BY_GRADE: Text =
        t("按事故等级（国务院令第493号）", "By grade (State Council Order 493)");
    /// Column heads.
    pub(crate) const RANK: Text = t("序号", "Rank");
    /// Column heads.
    pub(crate) const ENTERPRISE: Text = t("企业", "Enterprise");
    /// Column heads.
    pub(crate) const REGION: Text = t("区划代码", "Region code");
    /// Column heads.
    pub(crate) const COLOUR: Text = t("风险等级", "Colour");
    /// Column heads.
    pub(crate) const RISK_POINTS: Text = t("风险分", "Risk points");
    /// Column heads.
    pub(crate) const EXPLANATION: Text = t("主要风险因素", "Main contributions");
    /// Column heads.
    pub(crate) const TYPE: Text = t("类别", "Type");
    /// Column heads.
    pub(crate) const GRADE: Text = t("等级", "Grade");
    /// The data's time.
    pub(crate) const AS_OF: Text = t("数据截至", "Data as of");
    /// Lake version.
    pub(crate) const VERSION: Text = t("数据版本", "Lake version");
    /// No data.
    pub(crate) const NONE: Text = t("本期无数据", "No data for this period");
    /// Period kinds.
    pub(crate) const PERIOD: Text = t("报告期", "Period");
}

/// A colour's name.
pub(crate) fn colour(name: &str, lang: Lang) -> &'static str {
    let text = match name {
        "red" => t("红", "red"),
        "orange" => t("橙", "orange"),
        "yellow" => t("黄", "yellow"),
        "blue" => t("蓝", "blue"),
        _ => t("—", "—"),
    };
    text.get(lang)
}

/// A 493号令 grade's name.
pub(crate) fn grade(name: &str, lang: Lang) -> String {
    let text = match name {
        "general" => t("一般", "general"),
        "larger" => t("较大", "larger"),
        "major" => t("重大", "major"),
        "especially_major" => t("特别重大", "especially major"),
        other => return other.to_string(),
    };
    text.get(lang).to_string()
}
