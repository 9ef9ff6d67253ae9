//! Turns the `scan` arguments into the list of files to scan, in a stable
//! order, before scanning starts (so the progress bar knows the total).

use std::fs;
use std::path::{Path, PathBuf};

/// Extensions picked up inside directories (compared case-insensitively).
pub const AUDIO_EXTENSIONS: [&str; 10] = [
    "wav", "flac", "mp3", "ogg", "oga", "opus", "webm", "mka", "m4a", "mp4",
];

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
/// by name. Symlinks are followed, to files and to directories; a link that
/// loops back to one of its own parents is reported, not followed forever.
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
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .min_depth(1);
    for entry in walk {
        match entry {
            Ok(e) if e.file_type().is_file() && is_audio(e.path()) => {
                out.push(Entry::File(e.into_path()))
            }
            Ok(_) => {}
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let why = match e.loop_ancestor() {
                    Some(a) => format!("symlink loop back to {}", a.display()),
                    None => e
                        .io_error()
                        .map_or_else(|| e.to_string(), ToString::to_string),
                };
                out.push(Entry::Unreadable(path, why));
            }
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

    #[test]
    fn follows_directory_symlinks_and_reports_loops() {
        use std::os::unix::fs::symlink;
        let root = std::env::temp_dir().join(format!("dfd-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("data/real")).unwrap();
        fs::write(root.join("data/real/a.wav"), b"x").unwrap();
        fs::write(root.join("data/real/notes.txt"), b"x").unwrap();
        fs::create_dir_all(root.join("set/fake")).unwrap();
        fs::write(root.join("set/fake/b.WAV"), b"x").unwrap();
        symlink(root.join("data/real"), root.join("set/real")).unwrap();
        symlink(root.join("set"), root.join("set/fake/again")).unwrap();

        let entries = audio_files_under(&root.join("set"));
        let files: Vec<String> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::File(p) => Some(p.strip_prefix(&root).unwrap().display().to_string()),
                Entry::Unreadable(..) => None,
            })
            .collect();
        assert_eq!(files, ["set/fake/b.WAV", "set/real/a.wav"]);
        let loops: Vec<&String> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Unreadable(p, why) if p.ends_with("fake/again") => Some(why),
                _ => None,
            })
            .collect();
        assert_eq!(loops.len(), 1);
        assert!(loops[0].contains("symlink loop"), "{}", loops[0]);
        fs::remove_dir_all(&root).unwrap();
    }
}
