//! Benchmark helper: unpack one layer file into a directory with Berth's layer applier.
//!
//! Usage: `unpack LAYER_FILE TARGET_DIR [MEDIA_TYPE]` (compression is detected by magic bytes).
//! Prints the diff id, entry count and elapsed seconds.

use std::fs::File;
use std::process::ExitCode;
use std::time::Instant;

use berth_image::layer::{apply, ApplyOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: {} LAYER_FILE TARGET_DIR [MEDIA_TYPE]", args[0]);
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let result = File::open(&args[1])
        .map_err(|e| e.to_string())
        .and_then(|f| {
            apply(
                f,
                args.get(3).map(String::as_str),
                args[2].as_ref(),
                &ApplyOptions::default(),
            )
            .map_err(|e| e.to_string())
        });
    match result {
        Ok(a) => {
            println!(
                "{} entries={} tar_bytes={} secs={:.3}",
                a.diff_id,
                a.entries,
                a.tar_size,
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unpack: {e}");
            ExitCode::FAILURE
        }
    }
}
