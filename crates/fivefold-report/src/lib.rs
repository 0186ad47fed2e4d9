//! The bureau's period report, built from the lake's KPI views.
//!
//! [`gather`] reads the figures of one period and scope (the whole lake, a
//! county or a town) through a DataFusion session over the lake (see
//! [`fivefold_query::kpi`]): every indicator of the five KPI families for the
//! period, the period before it and the same period a year before; a trend of
//! each family's headline indicator in finer periods (days of a month, weeks of
//! a quarter, months of a year); the ten highest-risk enterprises at period end
//! with the rules that put them there; and towns by colour.
//!
//! [`html`] renders them as one self-contained page with inline SVG charts;
//! every KPI cell carries `data-kpi="<view>.<column>"`, `data-period` and
//! `data-value` attributes, so the page can be checked against the views.
//! [`markdown`] renders Markdown and returns the charts as SVG documents to
//! write beside it. Labels are Chinese by default, English with [`Lang::En`].

mod catalog;
mod error;
mod figures;
mod period;
mod render;
mod svg;

pub use catalog::{FAMILIES, Family, Lang, Metric, Text, Unit};
pub use error::{Error, Result};
pub use figures::{
    AccidentRow, FamilyFigures, Figures, Scope, TopEnterprise, gather, latest_period,
};
pub use period::{Kind, Period};
pub use render::{Chart, html, markdown};
