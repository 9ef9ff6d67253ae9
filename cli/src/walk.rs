//! Turns the `scan` arguments into the list of files to scan, in a stable
//! order, before scanning starts (so the progress bar knows the total).

use std::fs;
use std::path::{Path, PathBuf};

/// Extensions picked up inside directories (compared case-insensitively).
pub const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "flac", "mp3", "ogg", "oga"];

/// One thing to report on: a file to scan, or a path that could not be read.
pub enum Entry {
    File(PathBuf),
    Unreadable(PathBuf, String),
}

pub struct Inputs {
    pub entries: Vec<Entry>,
    /// Some argument was a directory (the progress bar is only worth it then).
    pub any_dir: bool,
}

/// Expands the arguments in their order; each directory recursively, sorted
/// by name. Symlinked files are followed, symlinked directories are not
/// (a link cycle would never end).
pub fn collect(args: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs {
        entries: Vec::new(),
        any_dir: false,
    };
    for arg in args {
        match fs::metadata(arg) {
            Ok(meta) if meta.is_dir() => {
                inputs.any_dir = true;
                let before = inputs.entries.len();
                walk_dir(arg, &mut inputs.entries);
                if inputs.entries.len() == before {
                    let exts = AUDIO_EXTENSIONS.map(|e| format!(".{e}")).join(", ");
                    inputs.entries.push(Entry::Unreadable(
                        arg.clone(),
                        format!("no audio files ({exts}) in this directory"),
                    ));
                }
            }
            Ok(_) => inputs.entries.push(Entry::File(arg.clone())),
            Err(e) => inputs
                .entries
                .push(Entry::Unreadable(arg.clone(), e.to_string())),
        }
    }
    inputs
}

/// The audio files under `dir`, at any depth, in sorted order (with the
/// paths that could not be read), as a directory argument of `scan` expands.
pub fn audio_files_under(dir: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    walk_dir(dir, &mut out);
    out
}

fn walk_dir(dir: &Path, out: &mut Vec<Entry>) {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) => return out.push(Entry::Unreadable(dir.to_path_buf(), e.to_string())),
    };
    let mut children: Vec<PathBuf> = Vec::new();
    for entry in listing {
        match entry {
            Ok(entry) => children.push(entry.path()),
            Err(e) => out.push(Entry::Unreadable(dir.to_path_buf(), e.to_string())),
        }
    }
    children.sort();
    for path in children {
        let Ok(link_meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if link_meta.is_dir() {
            walk_dir(&path, out);
        } else if is_audio(&path) && fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out.push(Entry::File(path));
        }
    }
}

pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_extensions_are_case_insensitive() {
        assert!(is_audio(Path::new("a/b.WAV")));
        assert!(is_audio(Path::new("x.Oga")));
        assert!(is_audio(Path::new("x.mp3")));
        assert!(!is_audio(Path::new("x.txt")));
        assert!(!is_audio(Path::new("wav")));
    }
}
