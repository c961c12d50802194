//! Any input: `check` and `fmt` never panic; a file fmt accepts formats to
//! a fixed point that means the same and keeps every comment.
#![no_main]

use archipel_planner::format::{check_equivalent, format_text};
use archipel_planner::source::Sources;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sources = Sources::new();
    let file = sources.add("fuzz.hcl", text.as_ref());
    let checked = archipel_planner::check(&sources);
    for diagnostic in &checked.diagnostics {
        let report = diagnostic.to_report(&sources);
        assert!(report.place.line >= 1 && report.place.column >= 1);
    }
    if let Ok(formatted) = format_text(&text) {
        if let Err(why) = check_equivalent(&text, &formatted) {
            panic!("formatted text {why}");
        }
        let again = format_text(&formatted).expect("formatted text parses");
        assert_eq!(again, formatted, "fmt is not idempotent");
    }
    let _ = file;
});
