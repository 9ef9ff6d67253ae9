//! Files the commands write (`--json`, `--plot`): checked before the long
//! work starts, not found unwritable after it.

use std::path::Path;

/// An output file's directory must exist: found out before scoring, not after.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "cannot write {}: {} is not a directory",
            path.display(),
            parent.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "cannot write {}: it is a directory",
            path.display()
        ));
    }
    Ok(())
}
