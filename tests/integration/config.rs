//! `fivefold check-config`: pipeline configs and risk models, with errors
//! that name the key or the rule.

use crate::harness::*;

fn check(text: &str) -> (bool, String) {
    check_with(text, &[])
}

/// `check-config` of `text` with the environment variables `env` set.
fn check_with(text: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, text).unwrap();
    let out = bin()
        .args(["check-config", f.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn shipped_configs_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for name in ["fivefold.toml", "risk-model.toml"] {
        let text = std::fs::read_to_string(root.join(name)).unwrap();
        let (ok, out) = check(&text);
        assert!(ok, "{name}: {out}");
    }
}

#[test]
fn errors_name_the_key_or_the_rule() {
    let (ok, out) = check("[lake]\nzstd_level = 99\n");
    assert!(!ok);
    assert!(out.contains("lake.zstd_level: must be 1 to 22, got 99"), "{out}");

    let (ok, out) = check("[kafka]\npartitions = 0\n");
    assert!(!ok);
    assert!(out.contains("kafka.partitions: must be at least 1, got 0"), "{out}");

    let model = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/risk-model.toml"),
    )
    .unwrap();
    let (ok, out) = check(&model.replace("record_type = 'penalty'", "record_kind = 'penalty'"));
    assert!(!ok);
    assert!(out.contains("rule ENF-PENALTY: when"), "{out}");
    assert!(out.contains("record_kind"), "{out}");
    assert_eq!(out.trim_end().lines().count(), 1, "one line: {out}");

    let (ok, out) =
        check(&model.replace("score_window = \"5m\"", "score_window = \"five minutes\""));
    assert!(!ok);
    assert!(out.contains("score_window"), "{out}");
}

#[test]
fn environment_overrides_reach_both_files() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let pipeline = std::fs::read_to_string(root.join("fivefold.toml")).unwrap();
    let model = std::fs::read_to_string(root.join("risk-model.toml")).unwrap();

    // A model key in the environment does not upset the pipeline config,
    // and is checked against the model it overrides.
    let (ok, out) = check_with(&pipeline, &[("FIVEFOLD_SCALE__BLUE_MIN", "85")]);
    assert!(ok, "{out}");
    let (ok, out) = check_with(&pipeline, &[("FIVEFOLD_SCALE__BLUE_MN", "85")]);
    assert!(!ok);
    assert!(out.contains("with FIVEFOLD_SCALE__BLUE_MN") && out.contains("blue_mn"), "{out}");
    let (ok, out) = check_with(&pipeline, &[("FIVEFOLD_SCALE__BLUE_MIN", "10")]);
    assert!(!ok);
    assert!(out.contains("blue_min > yellow_min > orange_min"), "{out}");
    let (ok, out) = check_with(&model, &[("FIVEFOLD_SCALE__BLUE_MIN", "10")]);
    assert!(!ok);
    assert!(out.contains("blue_min > yellow_min > orange_min"), "{out}");
    let (ok, out) = check_with(&model, &[("FIVEFOLD_INHERENT__INDUSTRY__FIREWORKS", "7.5")]);
    assert!(ok, "{out}");

    let (ok, out) = check_with(&pipeline, &[("FIVEFOLD_SCAEL__BLUE_MIN", "85")]);
    assert!(!ok);
    assert!(out.contains("FIVEFOLD_SCAEL__BLUE_MIN: unknown section `scael`"), "{out}");
}
