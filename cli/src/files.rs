//! Finding and reading the archipelago's files: `-f` names one file, or a
//! directory whose `*.hcl` files (sorted by name, editors' leftovers
//! ignored) form one archipelago.

use archipel_planner::diagnostic::Diagnostic;
use archipel_planner::source::{Sources, Span};
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem reading the files themselves (before any HCL is involved).
#[derive(Debug)]
pub struct LoadError(String);

impl LoadError {
    pub fn new(message: impl Into<String>) -> LoadError {
        LoadError(message.into())
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Refuse files that cannot be an archipelago: no one writes 64 MiB of HCL,
/// and reading a wrong path (a disk image…) should fail fast.
const MAX_FILE_SIZE: u64 = 64 << 20;

/// The paths of the archipelago's files.
pub fn find(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| LoadError(format!("cannot list {}: {e}", path.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LoadError(format!("cannot list {}: {e}", path.display())))?;
        let file = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".hcl") || is_ignored(&name) {
            continue;
        }
        // A link to nowhere or to a directory is a mistake to show, not a
        // file to skip in silence.
        match std::fs::metadata(&file) {
            Ok(metadata) if metadata.is_file() => files.push(file),
            Ok(_) => {
                return Err(LoadError(format!(
                    "{} is not a regular file: an archipelago file must be one",
                    display(&file)
                )));
            }
            Err(e) => {
                return Err(LoadError(format!("cannot read {}: {e}", display(&file))));
            }
        }
    }
    if files.is_empty() {
        return Err(LoadError(format!(
            "no .hcl file in {}; pass the archipelago with -f FILE or -f DIRECTORY",
            display(path)
        )));
    }
    files.sort();
    Ok(files)
}

/// Files an editor leaves beside the real ones, which Terraform ignores
/// too: hidden files (`.#x.hcl`, an Emacs lock), `#x.hcl#` (an Emacs
/// autosave) and `x.hcl~` (a backup).
fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || name.ends_with('~') || (name.starts_with('#') && name.ends_with('#'))
}

/// Reads the files into [`Sources`]. A file that is not UTF-8 text is still
/// added (lossily) so the problem is reported as a diagnostic at its place.
pub fn read(paths: &[PathBuf]) -> Result<(Sources, Vec<Diagnostic>), LoadError> {
    let mut sources = Sources::new();
    let mut problems = Vec::new();
    for path in paths {
        let size = std::fs::metadata(path)
            .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?
            .len();
        if size > MAX_FILE_SIZE {
            return Err(LoadError(format!(
                "{} is {size} bytes: too large to be an archipelago file",
                path.display()
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
        let name = display(path);
        match String::from_utf8(bytes) {
            Ok(text) => {
                sources.add(name, text);
            }
            Err(error) => {
                let offset = error.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
                let file = sources.add(name, text);
                problems.push(
                    Diagnostic::error(
                        "not-utf8",
                        Span::new(file, offset..offset + 1),
                        "this file is not UTF-8 text",
                    )
                    .with_help("archipelago files are UTF-8 HCL; is this the right file?"),
                );
            }
        }
    }
    Ok((sources, problems))
}

/// Paths as the user wrote them, without a leading `./`.
fn display(path: &Path) -> String {
    let path = path.strip_prefix(".").unwrap_or(path);
    if path.as_os_str().is_empty() {
        ".".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads and checks the archipelago for commands that act on it: prints the
/// diagnostics (warnings included) and returns the model only when valid.
/// With `json`, an invalid archipelago is also reported on stdout as
/// `validate --output json` reports it.
pub fn load_valid(
    path: &Path,
    json: bool,
) -> Result<Option<archipel_planner::model::Archipelago>, LoadError> {
    let paths = find(path)?;
    let (sources, problems) = read(&paths)?;
    let colour = crate::stdout::colour_on_stderr();
    let (model, diagnostics) = if problems.is_empty() {
        let checked = archipel_planner::check(&sources);
        let valid = !checked.has_errors();
        (valid.then_some(checked.archipelago), checked.diagnostics)
    } else {
        (None, problems)
    };
    eprint!(
        "{}",
        crate::diagnostics::render_human(&sources, &diagnostics, colour)
    );
    if model.is_none() {
        eprintln!(
            "The archipelago is not valid: {}.",
            crate::diagnostics::summary(&diagnostics)
        );
        if json {
            outln!(
                "{}",
                crate::diagnostics::render_json(&sources, &diagnostics, None)
            );
        }
    }
    Ok(model)
}

/// A plan saved by `archipel plan -out`.
pub fn read_saved(path: &Path) -> Result<archipel_planner::saved::SavedPlan, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(format!("cannot read {}: {e}", path.display())))?;
    archipel_planner::saved::SavedPlan::from_json(&text).map_err(|e| {
        LoadError::new(format!(
            "{} is not a plan this archipel can apply: {e}",
            path.display()
        ))
    })
}
