//! `fivefold generate` -> `fivefold replay` -> `fivefold sql`.

use std::time::{Duration, Instant};

use crate::harness::*;

/// `fivefold replay` in the background, committing every `commit_rows` rows
/// read in batches of `batch_rows`, without fsync.
fn spawn_replay(
    input: &std::path::Path,
    lake: &std::path::Path,
    commit_rows: u64,
    batch_rows: u64,
) -> std::process::Child {
    bin()
        .args(["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()])
        .env("FIVEFOLD_REPLAY__COMMIT_ROWS", commit_rows.to_string())
        .env("FIVEFOLD_REPLAY__BATCH_ROWS", batch_rows.to_string())
        .env("FIVEFOLD_LAKE__DURABLE", "false")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Every generated record is accounted for exactly once: rows in the source
/// tables plus dead letters equal the records generated, and the malformed
/// ones are exactly the dead letters.
#[test]
fn replay_accounts_for_every_generated_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    let (good, bad) = generate(&input, 60, 2.0, 7, 0.01);
    assert!(bad > 0, "the bad ratio produced malformed records");
    assert_eq!(input_records(&input), good + bad);
    run_ok(&["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()]);
    let (rows, dead) = lake_rows(&lake);
    assert_eq!((rows, dead), (good, bad));
    assert_no_duplicates(&lake);
    // Every dead letter says which class of bad input it is and why.
    let classes = sql(
        &lake,
        "SELECT DISTINCT error_class FROM dead_letters WHERE reason = '' OR reason IS NULL",
    );
    assert!(classes.is_empty(), "dead letters without a reason: {classes:?}");
    // Replaying the same input again adds nothing: the lake knows where it stopped.
    let out =
        run_ok(&["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()]);
    assert!(out.starts_with("replayed 0 records"), "{out}");
    assert_eq!(lake_rows(&lake), (good, bad));
}

/// Kill -9 the replay several times mid-run; each restart resumes from the
/// last commit, and at the end the lake holds every record exactly once.
#[test]
fn replay_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    let (good, bad) = generate(&input, 300, 3.0, 11, 0.005);
    let args = ["replay", "--input", input.to_str().unwrap(), "--lake", lake.to_str().unwrap()];
    let log = lake.join("_fivefold/log");
    let versions = || std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0);
    let mut kills = 0;
    for round in 0..5 {
        // Small commits and batches so that a run holds many commit points.
        let mut child = spawn_replay(&input, &lake, 15000, 2000);
        // Wait for at least one more commit, then kill at a point that varies.
        let before = versions();
        let deadline = Instant::now() + Duration::from_secs(120);
        while versions() <= before && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(7 * round));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 3, "the replay was killed mid-run at least three times ({kills})");
    run_ok(&args);
    assert_eq!(lake_rows(&lake), (good, bad));
    assert_no_duplicates(&lake);
    let staging = std::fs::read_dir(lake.join("_fivefold/staging")).unwrap().count();
    assert_eq!(staging, 0, "staging is cleaned up after a clean finish");
}

/// `fivefold compact` runs again and again beside a replay that commits every
/// few thousand rows. Every query between them sees each line at most once
/// and never fewer rows than the one before; at the end the lake holds every
/// record once, one file per table and date, and the same scores as before
/// the last compaction.
#[test]
fn compaction_beside_a_running_replay_shows_no_duplicate_and_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    let (good, bad) = generate(&input, 300, 3.0, 13, 0.005);
    let lake_arg = lake.to_str().unwrap();
    let mut child = spawn_replay(&input, &lake, 4000, 1000);
    let lines = "SELECT count(*) AS n, count(DISTINCT f || ':' || CAST(l AS VARCHAR)) AS d FROM (\
                 SELECT _file AS f, _line AS l FROM monitoring_reading UNION ALL \
                 SELECT file AS f, line AS l FROM dead_letters)";
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lake.join("_fivefold/log").is_dir() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut last, mut merged_runs) = (0u64, 0);
    loop {
        let running = child.try_wait().unwrap().is_none();
        let out = run_ok(&["compact", "--lake", lake_arg]);
        if out.starts_with("merged") {
            merged_runs += 1;
        }
        let row = sql(&lake, lines).remove(0);
        let (n, d): (u64, u64) = (row[0].parse().unwrap(), row[1].parse().unwrap());
        assert_eq!(n, d, "a line is visible twice");
        assert!(n >= last, "rows went from {last} to {n}");
        last = n;
        if !running {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
    assert!(merged_runs >= 2, "compaction merged files beside the replay ({merged_runs} times)");
    let scores = scores_text(&lake);
    let out = run_ok(&["compact", "--lake", lake_arg, "--retain", "0s", "--zstd-level", "9"]);
    assert!(out.contains("deleted"), "replaced files are deleted with --retain 0s: {out}");
    assert_eq!(lake_rows(&lake), (good, bad));
    assert_no_duplicates(&lake);
    assert_eq!(scores_text(&lake), scores, "compaction changed no score");
    // One file per table and date is left on disk, nothing else.
    let mut partitions = 0;
    for table in std::fs::read_dir(&lake).unwrap().map(|e| e.unwrap().path()) {
        if table.ends_with("_fivefold") || !table.is_dir() {
            continue;
        }
        for part in std::fs::read_dir(&table).unwrap().map(|e| e.unwrap().path()) {
            let files = std::fs::read_dir(&part).unwrap().count();
            assert_eq!(files, 1, "{} holds {files} files", part.display());
            partitions += 1;
        }
    }
    assert!(partitions > 5, "{partitions} partitions");
    let again = run_ok(&["compact", "--lake", lake_arg]);
    assert!(again.starts_with("nothing to compact"), "{again}");
    let bad = bin().args(["compact", "--lake", lake_arg, "--zstd-level", "23"]).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("--zstd-level: must be 1 to 22, got 23"),
        "{err}"
    );
}

/// SQL too deep to plan (a chain of 3,000 terms would overflow the stack) is
/// one clear error line from `fivefold sql`, not a crash.
#[test]
fn sql_too_deep_to_plan_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!("SELECT {}1 AS n", "1+".repeat(3000));
    let out = bin().args(["sql", "--lake", dir.path().to_str().unwrap(), &sql]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: the query is too complex to plan safely: "), "{err}");
    assert!(err.contains("more than 64 deep"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // Just under the limit, the same shape runs.
    let sql = format!("SELECT {}1 AS n", "1+".repeat(40));
    assert_eq!(sql_count(dir.path(), &sql), 41);
}
