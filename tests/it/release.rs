//! Release metadata that a registry or marketplace checks only at publishing time, checked
//! on every test run instead: the GitHub action's marketplace fields, the crate's
//! metadata limits (crates.io), and a changelog that knows the version being built.
//! (`cargo publish --dry-run --locked` in .ci/run checks the package itself.)

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The value of a top-level `key: value` line (or the block under `key:`).
fn top_level<'a>(yaml: &'a str, key: &str) -> Option<&'a str> {
    yaml.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

#[test]
fn the_github_action_has_marketplace_metadata() {
    let yaml = read("ci/github/action.yml");
    let name = top_level(&yaml, "name").expect("name");
    assert!(!name.is_empty());
    let description = top_level(&yaml, "description").expect("description");
    // The Marketplace shows at most 125 characters.
    assert!(
        !description.is_empty() && description.chars().count() <= 125,
        "{description:?}"
    );
    assert!(!top_level(&yaml, "author").expect("author").is_empty());
    let branding: Vec<&str> = yaml
        .lines()
        .skip_while(|l| *l != "branding:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    let field = |k: &str| {
        branding
            .iter()
            .find_map(|l| l.trim().strip_prefix(k)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or_else(|| panic!("branding.{k} missing: {branding:?}"))
    };
    assert!(!field("icon").is_empty());
    // GitHub's documented branding colours.
    let colors = [
        "white",
        "black",
        "yellow",
        "blue",
        "green",
        "orange",
        "red",
        "purple",
        "gray-dark",
    ];
    assert!(colors.contains(&field("color")), "{branding:?}");
}

#[test]
fn crate_metadata_fits_crates_io_limits() {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let package = manifest["package"].as_table().expect("[package]");
    let list = |k: &str| -> Vec<String> {
        package[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k}"))
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect()
    };
    let keywords = list("keywords");
    assert!(keywords.len() <= 5, "{keywords:?}");
    for k in &keywords {
        assert!(
            k.len() <= 20
                && k.starts_with(|c: char| c.is_ascii_alphabetic())
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "crates.io refuses keyword {k:?}"
        );
    }
    assert!(list("categories").len() <= 5);
    assert_eq!(package["license"].as_str(), Some("MIT OR Apache-2.0"));
    for file in ["LICENSE-MIT", "LICENSE-APACHE", "README.md"] {
        assert!(
            list("include").contains(&format!("/{file}")),
            "{file} ships in the crate"
        );
        assert!(!read(file).is_empty());
    }
}

#[test]
fn the_changelog_knows_the_version_being_built() {
    let changelog = read("CHANGELOG.md");
    let version = env!("CARGO_PKG_VERSION");
    let released = changelog
        .lines()
        .any(|l| l.starts_with(&format!("## [{version}] - ")));
    // Before the first release the version is announced under [Unreleased].
    let upcoming =
        changelog.contains("## [Unreleased]") && changelog.contains(&format!("will be {version}"));
    assert!(
        released || upcoming,
        "CHANGELOG.md has no `## [{version}] - DATE` section (README: Versioning and releases)"
    );
}
