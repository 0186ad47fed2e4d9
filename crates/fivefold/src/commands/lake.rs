//! `fivefold lake repair`.

use crate::cli::{LakeArgs, LakeCommand};

pub(crate) fn run(args: LakeArgs) -> anyhow::Result<()> {
    match args.command {
        LakeCommand::Repair { lake } => {
            if !fivefold_lake::is_object_url(&lake) && !lake.join("_fivefold/log").is_dir() {
                anyhow::bail!(
                    "--lake {} is not a Fivefold lake (no _fivefold/log)",
                    lake.display()
                );
            }
            let report = fivefold_lake::repair(&lake)?;
            let Some((path, why)) = &report.damaged else {
                println!("the commit log is whole at version {}; nothing to do", report.version);
                return Ok(());
            };
            println!("damaged: {} ({why})", path.display());
            if let Some(q) = &report.quarantine {
                println!("moved {} log file(s) to {}", report.moved.len(), q.display());
            }
            println!(
                "the lake now stands at version {}; a restarted pipeline consumes again from:",
                report.version
            );
            for (source, pos) in &report.sources {
                println!("  {source} at {}", pos.next);
            }
            Ok(())
        }
    }
}
