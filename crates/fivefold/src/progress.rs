//! Progress bars for long commands: drawn on a terminal, silent when piped.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte- or count-based bar on stderr; hidden when stderr is not a terminal.
pub(crate) fn bar(total: u64, unit: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style);
    }
    pb
}
