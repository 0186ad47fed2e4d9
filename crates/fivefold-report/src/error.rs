//! Errors of the report crate.

/// What can go wrong while building a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--period` is not a period label.
    #[error(
        "period '{given}' is not one of 2026-03-01 (day), 2026-W09 (ISO week), 2026-03 (month), \
         2026-Q1 (quarter) or 2026 (year)"
    )]
    Period {
        /// What was given.
        given: String,
    },
    /// `--town` or `--county` is not a region code.
    #[error(
        "region '{given}' is not a region code: give the 12-digit code (or its first {digits} digits)"
    )]
    Region {
        /// What was given.
        given: String,
        /// The digits that name the region.
        digits: usize,
    },
    /// A query over the lake failed.
    #[error(transparent)]
    Query(#[from] fivefold_query::Error),
    /// A result had an unexpected shape (a view and this crate disagree).
    #[error("the {view} view returned {what}; the report and the view definitions disagree")]
    Shape {
        /// The view or query.
        view: &'static str,
        /// What was unexpected.
        what: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
