//! `fivefold report`.

use anyhow::Context as _;
use fivefold_query::QueryOptions;
use fivefold_report::{Lang, Period, Scope};

use crate::cli::ReportArgs;

pub(crate) fn run(args: ReportArgs) -> anyhow::Result<()> {
    let period: Period = args.period.parse().map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    let lang: Lang = args.lang.parse().map_err(|e| anyhow::anyhow!("--lang: {e}"))?;
    let scope = match (&args.town, &args.county) {
        (Some(t), _) => Scope::town(t).map_err(|e| anyhow::anyhow!("--town: {e}"))?,
        (None, Some(c)) => Scope::county(c).map_err(|e| anyhow::anyhow!("--county: {e}"))?,
        (None, None) => Scope::All,
    };
    if !matches!(args.format.as_str(), "html" | "md") {
        anyhow::bail!("--format: '{}' is not one of html, md", args.format);
    }
    let snapshot = super::read_lake(&args.lake)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let figures = rt.block_on(async {
        let ctx = fivefold_query::lake_session(&snapshot, &QueryOptions::default())?;
        anyhow::Ok(fivefold_report::gather(&ctx, period, scope).await?)
    })?;
    let write = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    };
    if args.format == "html" {
        write(&args.out, &fivefold_report::html(&figures, lang, Some(snapshot.version), None))?;
        println!("wrote the {period} report to {}", args.out.display());
        return Ok(());
    }
    // Markdown: the charts go beside the file, named after it.
    let stem = args.out.file_stem().map_or("report".into(), |s| s.to_string_lossy().into_owned());
    let prefix = format!("{stem}-");
    let (text, charts) = fivefold_report::markdown(&figures, lang, &prefix);
    let dir = args.out.parent().unwrap_or(std::path::Path::new("."));
    for chart in &charts {
        write(&dir.join(format!("{prefix}{}.svg", chart.name)), &chart.svg)?;
    }
    write(&args.out, &text)?;
    println!(
        "wrote the {period} report to {} and {} charts beside it",
        args.out.display(),
        charts.len()
    );
    Ok(())
}
