//! libdfd.so exports the C API and nothing else: every dynamic symbol it
//! defines starts with `dfd_`, and every function of the header is there.

mod common;

use std::process::Command;

#[test]
fn shared_library_exports_only_dfd_symbols() {
    let lib = common::artifact_dir("libdfd.so").join("libdfd.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only", "--format=posix"])
        .arg(&lib)
        .output()
        .expect("nm (binutils) is needed");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let symbols: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let foreign: Vec<&&str> = symbols.iter().filter(|s| !s.starts_with("dfd_")).collect();
    assert!(
        foreign.is_empty(),
        "libdfd.so exports non-dfd symbols: {foreign:?}"
    );

    let header = std::fs::read_to_string(common::root().join("include/dfd.h")).unwrap();
    let declared: Vec<&str> = header
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with(['/', '*']) && l.contains("dfd_") && l.contains('(')
        })
        .filter_map(|l| l.split('(').next()?.split_whitespace().last())
        .map(|name| name.trim_start_matches('*'))
        .filter(|name| name.starts_with("dfd_"))
        .collect();
    assert!(
        declared.len() >= 20,
        "parsed only {declared:?} from the header"
    );
    for f in declared {
        assert!(
            symbols.contains(&f),
            "{f} is declared in dfd.h but not exported"
        );
    }
}

#[test]
fn shared_library_has_the_versioned_soname() {
    let lib = common::artifact_dir("libdfd.so").join("libdfd.so");
    let out = Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .expect("readelf (binutils) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Library soname: [libdfd.so.0]"), "{text}");
}
