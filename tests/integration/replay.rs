//! `fivefold generate` -> `fivefold replay` -> `fivefold sql`.

use std::time::{Duration, Instant};

use crate::harness::*;

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
        let mut child = bin()
            .args(args)
            // Small commits and batches so that a run holds many commit points.
            .env("FIVEFOLD_REPLAY__COMMIT_ROWS", "15000")
            .env("FIVEFOLD_REPLAY__BATCH_ROWS", "2000")
            .env("FIVEFOLD_LAKE__DURABLE", "false")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
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
