//! `archipel fmt`: rewrite files in the canonical layout, keeping comments.

use crate::diagnostics;
use crate::files;
use archipel_planner::format::format_file;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, check: bool, diff: bool) -> Result<ExitCode, files::LoadError> {
    let paths = files::find(path)?;
    let (sources, problems) = files::read(&paths)?;
    if !problems.is_empty() {
        eprint!(
            "{}",
            diagnostics::render_human(&sources, &problems, crate::stdout::colour_on_stderr())
        );
        return Ok(ExitCode::FAILURE);
    }
    let mut unformatted = 0;
    let mut failed = false;
    for ((file, source), path) in sources.files().zip(&paths) {
        let formatted = match format_file(&sources, file) {
            Ok(formatted) => formatted,
            Err(diagnostic) => {
                eprint!(
                    "{}",
                    diagnostics::render_human(
                        &sources,
                        &[*diagnostic],
                        crate::stdout::colour_on_stderr()
                    )
                );
                failed = true;
                continue;
            }
        };
        if formatted == source.text {
            continue;
        }
        unformatted += 1;
        if diff {
            let patch = similar::TextDiff::from_lines(source.text.as_str(), formatted.as_str())
                .unified_diff()
                .context_radius(3)
                .header(&source.path, &source.path)
                .to_string();
            out!("{patch}");
        }
        if check {
            // Terraform's `fmt -check` lists the files that would change.
            if !diff {
                outln!("{}", source.path);
            }
        } else {
            write_atomically(path, &formatted)?;
            if !diff {
                outln!("{}", source.path);
            }
        }
    }
    Ok(if failed || (check && unformatted > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Replaces a file without ever leaving it half-written. A symbolic link
/// is written through (the file it points to is replaced, the link stays),
/// and the file keeps its mode, owner and group.
fn write_atomically(path: &Path, text: &str) -> Result<(), files::LoadError> {
    use std::os::unix::fs::MetadataExt;
    let fail =
        |e: std::io::Error| files::LoadError::new(format!("cannot write {}: {e}", path.display()));
    let target = std::fs::canonicalize(path).map_err(fail)?;
    let metadata = std::fs::metadata(&target).map_err(fail)?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.archipel-fmt.{}", std::process::id()));
    let written = (|| {
        std::fs::write(&temp, text)?;
        std::fs::set_permissions(&temp, metadata.permissions())?;
        // Only root may give a file away; for anyone else the owner is
        // already theirs, and the group one of theirs (or left as is).
        if metadata.uid() != std::fs::metadata(&temp)?.uid()
            || metadata.gid() != std::fs::metadata(&temp)?.gid()
        {
            std::os::unix::fs::chown(&temp, Some(metadata.uid()), Some(metadata.gid()))?;
        }
        std::fs::rename(&temp, &target)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        fail(e)
    })
}
