//! Raw layers: what each source says, parsed against the schema, with where it came from.
//!
//! Precedence, lowest first: defaults < repository file (`.dockguard.toml`) < git config
//! `dockguard.*` < environment `DOCKGUARD_*` < flags. The layers above the file are the
//! same for every target of a run, so they are read once ([`Layers`]); the file layer is
//! per tree and merged on top of the defaults with [`Layers::resolve`], which is cheap.
//!
//! The source rules of [`Trust`] are enforced here, at the boundary: a repository file
//! that sets a machine key is an error naming the file, the key and where it may be set.
//! So is where the file is read from: a commit's blob, or the work tree's file only when it
//! is a regular file directly in the checkout ([`crate::fsx::read_below`]), both at most
//! [`MAX_CONFIG_BYTES`]; a link (`-> /proc/self/environ`) is never followed, so an error
//! can quote the checkout's own file but nothing outside it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::keys::{
    env_name, git_name, key, where_to_set, Field, Key, Kind, Name, Trust, COUNT, KEYS,
};
use crate::error::{Error, Result};
use crate::fsx::{self, Found, Why};
use crate::limits::MAX_CONFIG_BYTES;

/// The configuration file's name, at the repository root.
pub const FILE_NAME: &str = ".dockguard.toml";

/// A configured value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A string or choice.
    Str(String),
    /// A list.
    List(Vec<String>),
    /// A number.
    Int(i64),
    /// An array of tables, each field validated against the key's [`Field`]s.
    Tables(Vec<BTreeMap<String, Value>>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => write!(f, "{l:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Tables(tables) => {
                f.write_str("[")?;
                for (i, t) in tables.iter().enumerate() {
                    let fields: Vec<String> = t.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    write!(
                        f,
                        "{}{{ {} }}",
                        if i > 0 { ", " } else { "" },
                        fields.join(", ")
                    )?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built in.
    Default,
    /// A `.dockguard.toml` (described: path or `commit:path`).
    File(String),
    /// `git config dockguard.*`.
    GitConfig,
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl Origin {
    /// True for the repository's file (the one untrusted source).
    pub fn is_repository(&self) -> bool {
        matches!(self, Origin::File(_))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => f.write_str(p),
            Origin::GitConfig => f.write_str("git config"),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

/// One layer: a value (and its origin) per key, validated against [`KEYS`].
#[derive(Debug, Clone)]
pub struct Layer {
    values: [Option<(Value, Origin)>; COUNT],
}

impl Default for Layer {
    fn default() -> Self {
        Layer {
            values: std::array::from_fn(|_| None),
        }
    }
}

impl Layer {
    fn set(&mut self, name: Name, value: Value, origin: Origin) {
        self.values[name as usize] = Some((value, origin));
    }

    fn merge_into(&self, out: &mut Layer) {
        for (slot, v) in out.values.iter_mut().zip(&self.values) {
            if v.is_some() {
                slot.clone_from(v);
            }
        }
    }
}

/// A parsed `.dockguard.toml`.
#[derive(Debug, Clone, Default)]
pub struct FileLayer(Layer);

impl FileLayer {
    /// Parses the file's text; `origin` names it in errors (e.g. `HEAD:.dockguard.toml`).
    /// A key the repository may not set ([`Trust::Machine`]) is an error.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let table: toml::Table = toml::from_str(text).map_err(|e| Error::Config {
            origin: origin.to_owned(),
            message: format!("not valid TOML: {}", super::excerpt::toml(text, &e)),
        })?;
        let mut layer = Layer::default();
        flatten(&table, "", origin, &mut layer)?;
        Ok(FileLayer(layer))
    }

    /// Reads the file from a commit's tree, or `None` when the tree has none. It must be
    /// a file (not a link, a directory or a submodule) of at most [`MAX_CONFIG_BYTES`],
    /// whose size is asked before it is read.
    pub fn from_tree(
        repo: &git2::Repository,
        tree: &git2::Tree<'_>,
        describe: &str,
    ) -> Result<Option<Self>> {
        let Some(entry) = tree.get_name(FILE_NAME) else {
            return Ok(None);
        };
        let origin = format!("{describe}:{FILE_NAME}");
        // By type bits: very old trees hold regular files as 100664.
        let why = match entry.filemode() & 0o170000 {
            0o100000 => None,
            0o120000 => Some(Why::Link),
            0o040000 => Some(Why::NotRegular("a directory")),
            0o160000 => Some(Why::NotRegular("a submodule")),
            _ => Some(Why::NotRegular("an unknown kind of entry")),
        };
        if let Some(why) = why {
            return Err(not_a_config(&origin, why, None));
        }
        let size = repo
            .odb()
            .and_then(|odb| odb.read_header(entry.id()))
            .map_err(|e| Error::git(format!("cannot read {origin}"), e))?
            .0 as u64;
        if size > MAX_CONFIG_BYTES {
            let why = Why::TooLarge {
                size,
                max: MAX_CONFIG_BYTES,
            };
            return Err(not_a_config(&origin, why, None));
        }
        let blob = repo
            .find_blob(entry.id())
            .map_err(|e| Error::git(format!("cannot read {origin}"), e))?;
        Self::parse(utf8(blob.content(), &origin)?, &origin).map(Some)
    }

    /// Reads the work tree's file, or `None` when there is none. Only a regular file of
    /// at most [`MAX_CONFIG_BYTES`] directly in the work tree is read: a committed link
    /// (to `/proc/self/environ`, `/dev/zero`, any file of the machine) or a FIFO is an
    /// error and is never opened, so no message can quote what it points at.
    pub fn from_workdir(workdir: &Path) -> Result<Option<Self>> {
        let path = workdir.join(FILE_NAME);
        let origin = path.display().to_string();
        match fsx::read_below(workdir, Path::new(FILE_NAME), MAX_CONFIG_BYTES) {
            Ok(Found::Bytes(bytes)) => Self::parse(utf8(&bytes, &origin)?, &origin).map(Some),
            Ok(Found::Missing) => Ok(None),
            Ok(Found::Refused(r)) => Err(not_a_config(&origin, r.why, Some(&path))),
            Err(e) => Err(Error::io(format!("cannot read {origin}"), e)),
        }
    }
}

fn utf8<'b>(bytes: &'b [u8], origin: &str) -> Result<&'b str> {
    std::str::from_utf8(bytes).map_err(|_| Error::Config {
        origin: origin.to_owned(),
        message: "is not UTF-8 text".into(),
    })
}

/// The error for a `.dockguard.toml` that is not a regular file of a sensible size, read
/// from a tree or (`path`) the work tree.
fn not_a_config(origin: &str, why: Why, path: Option<&Path>) -> Error {
    let message = format!("{origin} {why}");
    let only = format!(
        "dockguard reads {FILE_NAME} only as a regular file, never through a link (a link \
         could point at any file outside the checkout)"
    );
    let hint = match (why, path) {
        (Why::TooLarge { .. }, _) => format!(
            "a configuration is a few lines (see the configuration reference, docs/src/configuration.md); \
             dockguard reads at most {} KiB of {FILE_NAME}",
            MAX_CONFIG_BYTES / 1024
        ),
        // `rm` removes anything from a work tree but a directory.
        (Why::NotRegular("a directory"), _) | (_, None) => format!(
            "{only}: commit the configuration itself as {FILE_NAME}, or remove it from the branch"
        ),
        (_, Some(p)) => format!(
            "{only}: replace it with a regular file holding the configuration, or delete it: \
             rm {} (and commit that, if the branch holds it)",
            crate::render::escape::shell_word(&p.display().to_string())
        ),
    };
    Error::Hinted { message, hint }
}

fn flatten(table: &toml::Table, prefix: &str, origin: &str, layer: &mut Layer) -> Result<()> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let toml::Value::Table(sub) = v {
            if KEYS
                .iter()
                .any(|key| key.name.starts_with(&format!("{name}.")))
            {
                flatten(sub, &name, origin, layer)?;
                continue;
            }
        }
        let key = known_key(&name, origin)?;
        if key.trust == Trust::Machine {
            return Err(Error::Config {
                origin: origin.to_owned(),
                message: format!(
                    "`{}` cannot be set in a repository's {FILE_NAME}: it decides what runs, \
                     where dockguard connects or how strict a check is, and the file comes from \
                     whoever pushed; set it with {}",
                    key.name,
                    where_to_set(key)
                ),
            });
        }
        if let Kind::Tables(fields) = key.kind {
            let value = tables_from_toml(key.name, fields, v, origin)?;
            layer.set(key.id, value, Origin::File(origin.to_owned()));
            continue;
        }
        let value = from_toml(key.kind, v).ok_or_else(|| Error::Config {
            origin: origin.to_owned(),
            message: format!(
                "`{name}` must be {}, not {}",
                expected(key.kind),
                toml_type(v)
            ),
        })?;
        check_value(key, &value, origin)?;
        layer.set(key.id, value, Origin::File(origin.to_owned()));
    }
    Ok(())
}

fn known_key(name: &str, origin: &str) -> Result<&'static Key> {
    key(name).ok_or_else(|| {
        let mut message = format!("unknown key `{name}`");
        if let Some(close) = closest(name, KEYS.iter().map(|k| k.name)) {
            message.push_str(&format!(" (did you mean `{close}`?)"));
        }
        message.push_str("; known keys: ");
        message.push_str(&KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", "));
        Error::Config {
            origin: origin.to_owned(),
            message,
        }
    })
}

fn from_toml(kind: Kind, v: &toml::Value) -> Option<Value> {
    Some(match (kind, v) {
        (Kind::Bool, toml::Value::Boolean(b)) => Value::Bool(*b),
        (Kind::Str | Kind::Choice(_), toml::Value::String(s)) => Value::Str(s.clone()),
        (Kind::Int { .. }, toml::Value::Integer(i)) => Value::Int(*i),
        (Kind::List, toml::Value::Array(items)) => Value::List(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}

/// An array of tables, every field known and of the right type, required ones present.
fn tables_from_toml(name: &str, fields: &[Field], v: &toml::Value, origin: &str) -> Result<Value> {
    let bad = |message: String| Error::Config {
        origin: origin.to_owned(),
        message,
    };
    let items = match v {
        toml::Value::Array(items) => items,
        other => {
            return Err(bad(format!(
                "`{name}` must be an array of tables (write `[[{name}]]`), not {}",
                toml_type(other)
            )))
        }
    };
    let allowed = || fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    let mut tables = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{name}[{i}]");
        let toml::Value::Table(table) = item else {
            return Err(bad(format!(
                "`{at}` must be a table, not {}",
                toml_type(item)
            )));
        };
        let mut out = BTreeMap::new();
        for (k, v) in table {
            let Some(field) = fields.iter().find(|f| f.name == k) else {
                let mut m = format!("unknown key `{at}.{k}`");
                if let Some(c) = closest(k, fields.iter().map(|f| f.name)) {
                    m.push_str(&format!(" (did you mean `{c}`?)"));
                }
                m.push_str(&format!("; allowed: {}", allowed()));
                return Err(bad(m));
            };
            let value = from_toml(field.kind, v).ok_or_else(|| {
                bad(format!(
                    "`{at}.{k}` must be {}, not {}",
                    expected(field.kind),
                    toml_type(v)
                ))
            })?;
            out.insert(k.clone(), value);
        }
        if let Some(missing) = fields
            .iter()
            .find(|f| f.required && !out.contains_key(f.name))
        {
            return Err(bad(format!(
                "`{at}` needs `{}`; allowed: {}",
                missing.name,
                allowed()
            )));
        }
        tables.push(out);
    }
    Ok(Value::Tables(tables))
}

fn toml_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array (of strings only)",
        toml::Value::Table(_) => "a table",
    }
}

/// What a kind of value looks like, for messages.
pub fn expected(kind: Kind) -> String {
    match kind {
        Kind::Bool => "true or false".into(),
        Kind::Str => "a string".into(),
        Kind::List => "an array of strings".into(),
        Kind::Int { min, max } => format!("a whole number from {min} to {max}"),
        Kind::Choice(c) => format!("one of {}", c.join(", ")),
        Kind::Tables(_) => "an array of tables".into(),
    }
}

fn check_value(key: &Key, value: &Value, origin: &str) -> Result<()> {
    let bad = |message: String| Error::Config {
        origin: origin.to_owned(),
        message,
    };
    match (key.kind, value) {
        (Kind::Int { min, max }, Value::Int(i)) if *i < min || *i > max => Err(bad(format!(
            "`{}` = {i} is out of range: {}",
            key.name,
            expected(key.kind)
        ))),
        (Kind::Choice(choices), Value::Str(s)) if !choices.contains(&s.as_str()) => {
            let mut m = format!(
                "`{}` = {s:?} is not allowed: {}",
                key.name,
                expected(key.kind)
            );
            if let Some(c) = closest(s, choices.iter().copied()) {
                m.push_str(&format!(" (did you mean `{c}`?)"));
            }
            Err(bad(m))
        }
        _ => Ok(()),
    }
}

/// Parses text from git config, the environment or a flag into a key's type.
pub fn parse_text(key: &'static Key, text: &str, origin: &str) -> Result<Value> {
    let bad = || Error::Config {
        origin: origin.to_owned(),
        message: format!("`{text}` is not valid: expected {}", expected(key.kind)),
    };
    let value = match key.kind {
        Kind::Bool => Value::Bool(parse_bool(text).ok_or_else(bad)?),
        Kind::Str | Kind::Choice(_) => Value::Str(text.to_owned()),
        Kind::Int { .. } => Value::Int(text.trim().parse().map_err(|_| bad())?),
        Kind::List => Value::List(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Kind::Tables(_) => {
            return Err(Error::Config {
                origin: origin.to_owned(),
                message: format!(
                    "`{}` can only be set in {FILE_NAME}, as `[[{}]]` tables",
                    key.name, key.name
                ),
            })
        }
    };
    check_value(key, &value, origin)?;
    Ok(value)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Whether `DOCKGUARD_*` variables are settings for this front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSettings {
    /// A developer's shell (hook, check, push, images, tag, status): read them.
    Read,
    /// A CI job: anyone allowed to push can set pipeline variables (`git push -o
    /// ci.variable=…`), so none of them is a setting. Flags and git config only.
    Ignore,
}

/// A command-line flag that sets a key.
#[derive(Debug, Clone)]
pub struct Flag {
    /// The key.
    pub name: Name,
    /// Its text.
    pub value: String,
    /// The flag as typed, for messages (`--upstream`).
    pub flag: &'static str,
}

impl Flag {
    /// The flags that were given, from `(key, value if given, flag as typed)`.
    pub fn given(flags: &[(Name, Option<&String>, &'static str)]) -> Vec<Flag> {
        flags
            .iter()
            .filter_map(|(name, value, flag)| {
                value.map(|v| Flag {
                    name: *name,
                    value: v.clone(),
                    flag,
                })
            })
            .collect()
    }
}

/// The layers above the file (git config, environment, flags), read once per run.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    git: Layer,
    env: Layer,
    flags: Layer,
    /// Things worth saying about the sources (an ignored or misspelt variable).
    pub warnings: Vec<String>,
}

impl Layers {
    /// Reads `dockguard.*` from the repository's config (all levels), the `DOCKGUARD_*`
    /// variables in `env` (when `env_settings` says so), and the flags.
    pub fn load(
        config: Option<&git2::Config>,
        env: &BTreeMap<String, String>,
        env_settings: EnvSettings,
        flags: &[Flag],
    ) -> Result<Self> {
        let mut o = Layers::default();
        if let Some(config) = config {
            o.git = read_git_config(config)?;
        }
        let mut ignored = Vec::new();
        for key in KEYS {
            let var = env_name(key);
            let Some(text) = env.get(&var) else { continue };
            if env_settings == EnvSettings::Ignore {
                ignored.push(var);
                continue;
            }
            let v = parse_text(key, text, &format!("environment variable {var}"))?;
            o.env.set(key.id, v, Origin::Env(var));
        }
        if !ignored.is_empty() {
            o.warnings.push(format!(
                "note: ignoring {} in CI: a pipeline variable can be set by anyone who pushes \
                 (`git push -o ci.variable=…`), so dockguard ci takes its settings from flags and \
                 git config only",
                ignored.join(", ")
            ));
        }
        o.warnings.extend(misspelt_variables(env));
        for f in flags {
            let key = f.name.key();
            let v = parse_text(key, &f.value, &format!("flag {}", f.flag))?;
            o.flags.set(key.id, v, Origin::Flag(f.flag.to_owned()));
        }
        Ok(o)
    }

    /// Merges a file layer (if any) under these layers.
    pub fn resolve(&self, file: Option<&FileLayer>) -> Resolved {
        let mut merged = Layer::default();
        if let Some(f) = file {
            f.0.merge_into(&mut merged);
        }
        self.git.merge_into(&mut merged);
        self.env.merge_into(&mut merged);
        self.flags.merge_into(&mut merged);
        Resolved(merged)
    }

    /// The value the trusted layers alone give a key (`None`: unset there).
    pub fn trusted(&self, name: Name) -> Option<&(Value, Origin)> {
        [&self.flags, &self.env, &self.git]
            .into_iter()
            .find_map(|l| l.values[name as usize].as_ref())
    }
}

/// Warnings for `DOCKGUARD_*` variables that are no setting but close to one. Not an
/// error: the CI templates and dotenv reports put their own `DOCKGUARD_*` variables into
/// job environments.
fn misspelt_variables(env: &BTreeMap<String, String>) -> Vec<String> {
    // Compared without the common prefix, so that it does not make every name look close.
    let suffixes: Vec<String> = KEYS
        .iter()
        .map(|k| env_name(k)["DOCKGUARD_".len()..].to_owned())
        .collect();
    env.keys()
        .filter_map(|v| {
            let suffix = v.strip_prefix("DOCKGUARD_")?;
            if suffixes.iter().any(|s| s == suffix) {
                return None;
            }
            let close = closest(suffix, suffixes.iter().map(String::as_str))?;
            Some(format!(
                "warning: the environment variable {v} is no setting (did you mean DOCKGUARD_{close}?)"
            ))
        })
        .collect()
}

fn read_git_config(config: &git2::Config) -> Result<Layer> {
    let mut layer = Layer::default();
    let entries = config
        .entries(Some("^dockguard\\."))
        .map_err(|e| Error::git("cannot read git config", e))?;
    let mut lists: BTreeMap<Name, Vec<String>> = BTreeMap::new();
    let mut seen = Vec::new();
    entries
        .for_each(|entry| {
            let name = entry.name().unwrap_or_default().to_owned();
            let value = entry.value().unwrap_or_default().to_owned();
            seen.push((name, value));
        })
        .map_err(|e| Error::git("cannot read git config", e))?;
    for (full, text) in seen {
        // git lowercases section and key names; our keys are lowercase too.
        // git config names cannot hold `_`: `dockguard.push-option` sets `push_option`.
        let name = full
            .strip_prefix("dockguard.")
            .unwrap_or(&full)
            .replace('-', "_");
        let origin = format!("git config {full}");
        let key = known_key(&name, &origin)?;
        if key.kind == Kind::List {
            lists.entry(key.id).or_default().push(text);
        } else {
            // Later entries (local over global) win, as in git.
            layer.set(key.id, parse_text(key, &text, &origin)?, Origin::GitConfig);
        }
    }
    for (k, v) in lists {
        layer.set(k, Value::List(v), Origin::GitConfig);
    }
    debug_assert!(KEYS.iter().all(|k| git_name(k).starts_with("dockguard.")));
    Ok(layer)
}

/// Every key's effective raw value and origin, before typing ([`super::settings`]).
#[derive(Debug, Clone, Default)]
pub struct Resolved(Layer);

impl Resolved {
    /// The value of a key, `None` when unset (its default applies).
    pub fn get(&self, name: Name) -> Option<&Value> {
        self.0.values[name as usize].as_ref().map(|(v, _)| v)
    }

    /// Where a key's value came from.
    pub fn origin(&self, name: Name) -> Origin {
        self.0.values[name as usize]
            .as_ref()
            .map_or(Origin::Default, |(_, o)| o.clone())
    }

    /// A string or choice key, `None` when unset.
    pub fn string(&self, name: Name) -> Option<&str> {
        match self.get(name) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A string or choice key, its default when unset.
    pub fn string_or_default(&self, name: Name) -> &str {
        self.string(name).unwrap_or(name.key().default)
    }

    /// A boolean key.
    pub fn bool(&self, name: Name) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => *b,
            _ => name.key().default == "true",
        }
    }

    /// A list key.
    pub fn list(&self, name: Name) -> Vec<String> {
        match self.get(name) {
            Some(Value::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// A table-array key (empty when unset).
    pub fn tables(&self, name: Name) -> &[BTreeMap<String, Value>] {
        match self.get(name) {
            Some(Value::Tables(t)) => t,
            _ => &[],
        }
    }

    /// A number key.
    pub fn int(&self, name: Name) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => *i,
            _ => name.key().default.parse().unwrap_or(0),
        }
    }

    /// Every key with its effective value (or default) and origin, for `status`.
    pub fn effective(&self) -> Vec<(&'static Key, String, Origin)> {
        KEYS.iter()
            .map(|k| {
                let v = self
                    .get(k.id)
                    .map_or_else(|| k.default.to_owned(), ToString::to_string);
                (k, v, self.origin(k.id))
            })
            .collect()
    }
}

/// The candidate closest to `word` by edit distance, if any is close enough to suggest.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(3) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_sections_and_types() {
        let f = FileLayer::parse(
            "verbosity = \"quiet\"\n[match]\ndefaults = false\ninputs = [\"a/**\"]\n",
            "f",
        )
        .expect("valid");
        let s = Layers::default().resolve(Some(&f));
        assert_eq!(s.string(Name::Verbosity), Some("quiet"));
        assert!(!s.bool(Name::MatchDefaults));
        assert_eq!(s.list(Name::MatchInputs), vec!["a/**".to_owned()]);
        assert_eq!(s.origin(Name::Verbosity), Origin::File("f".into()));
        assert_eq!(s.int(Name::MaxCommits), 1000);
    }

    #[test]
    fn unknown_keys_and_bad_types_are_named() {
        let e = FileLayer::parse("[match]\ndockerfile = []\n", ".dockguard.toml")
            .expect_err("unknown")
            .to_string();
        assert!(
            e.contains(".dockguard.toml") && e.contains("`match.dockerfile`"),
            "{e}"
        );
        assert!(e.contains("did you mean `match.dockerfiles`"), "{e}");
        let e = FileLayer::parse("upstrem = 'x'\n", "f")
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("did you mean `upstream`"), "{e}");
        let e = FileLayer::parse("[match]\ndefaults = \"yes\"\n", "f")
            .expect_err("type")
            .to_string();
        assert!(e.contains("must be true or false, not a string"), "{e}");
        let e = FileLayer::parse("max_commits = 0\n", "f")
            .expect_err("range")
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = FileLayer::parse("[match\n", "f")
            .expect_err("toml")
            .to_string();
        assert!(e.contains("not valid TOML"), "{e}");
        let e = FileLayer::parse("[bogus]\nx = 1\n", "f")
            .expect_err("table")
            .to_string();
        assert!(e.contains("unknown key `bogus`"), "{e}");
    }

    #[test]
    fn a_repository_file_cannot_set_machine_keys() {
        for (text, key) in [
            ("upstream = \"origin/x\"\n", "upstream"),
            ("on_error = \"allow\"\n", "on_error"),
            ("remotes = [\"x\"]\n", "remotes"),
            ("allow_repush = true\n", "allow_repush"),
            (
                "[ci]\nupstream_url = \"--upload-pack=touch PWNED\"\n",
                "ci.upstream_url",
            ),
            (
                "[ci]\nrequest_variable = \"GITLAB_CI\"\n",
                "ci.request_variable",
            ),
            ("[ci]\nmax_depth = 100000000\n", "ci.max_depth"),
        ] {
            let e = FileLayer::parse(text, "HEAD:.dockguard.toml")
                .expect_err(key)
                .to_string();
            assert!(
                e.contains("HEAD:.dockguard.toml")
                    && e.contains(&format!("`{key}` cannot be set in a repository's"))
                    && e.contains("git config dockguard."),
                "{e}"
            );
        }
    }

    #[test]
    fn env_and_flags_override_file() {
        let f = FileLayer::parse("verbosity = \"quiet\"\n", "f").expect("valid");
        let vars = env(&[
            ("DOCKGUARD_VERBOSITY", "verbose"),
            ("DOCKGUARD_MATCH_INPUTS", "x/**, y/**"),
        ]);
        let o = Layers::load(None, &vars, EnvSettings::Read, &[]).expect("valid");
        let s = o.resolve(Some(&f));
        assert_eq!(s.string(Name::Verbosity), Some("verbose"));
        assert_eq!(
            s.origin(Name::Verbosity),
            Origin::Env("DOCKGUARD_VERBOSITY".into())
        );
        assert_eq!(
            s.list(Name::MatchInputs),
            vec!["x/**".to_owned(), "y/**".to_owned()]
        );
        let flag = Flag {
            name: Name::Verbosity,
            value: "normal".into(),
            flag: "--verbosity",
        };
        let o = Layers::load(None, &vars, EnvSettings::Read, &[flag]).expect("valid");
        assert_eq!(o.resolve(Some(&f)).string(Name::Verbosity), Some("normal"));
        let e = Layers::load(
            None,
            &env(&[("DOCKGUARD_MATCH_DEFAULTS", "maybe")]),
            EnvSettings::Read,
            &[],
        )
        .expect_err("bad")
        .to_string();
        assert!(
            e.contains("DOCKGUARD_MATCH_DEFAULTS") && e.contains("true or false"),
            "{e}"
        );
    }

    #[test]
    fn ci_ignores_settings_from_the_environment_and_says_so() {
        let vars = env(&[
            ("DOCKGUARD_CI_UPSTREAM_URL", "--upload-pack=touch PWNED"),
            ("DOCKGUARD_MATCH_DEFAULTS", "false"),
        ]);
        let o = Layers::load(None, &vars, EnvSettings::Ignore, &[]).expect("valid");
        let s = o.resolve(None);
        assert_eq!(s.string(Name::CiUpstreamUrl), None);
        assert!(s.bool(Name::MatchDefaults));
        assert!(
            o.warnings[0].contains("DOCKGUARD_CI_UPSTREAM_URL")
                && o.warnings[0].contains("DOCKGUARD_MATCH_DEFAULTS"),
            "{:?}",
            o.warnings
        );
    }

    #[test]
    fn a_misspelt_variable_gets_a_did_you_mean() {
        let vars = env(&[
            ("DOCKGUARD_POLCY", "warn"),
            ("DOCKGUARD_DECISION", "rebuild"),
        ]);
        let o = Layers::load(None, &vars, EnvSettings::Read, &[]).expect("valid");
        assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
        assert!(
            o.warnings[0].contains("DOCKGUARD_POLCY") && o.warnings[0].contains("DOCKGUARD_POLICY"),
            "{:?}",
            o.warnings
        );
    }

    #[test]
    fn a_trees_config_must_be_a_small_regular_file() {
        let dir = std::env::temp_dir().join(format!("dg-layers-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let repo = git2::Repository::init_bare(&dir).expect("init");
        let tree_with = |mode: i32, content: &[u8]| {
            let mut b = repo.treebuilder(None).expect("builder");
            let id = if mode == 0o040000 {
                repo.treebuilder(None)
                    .expect("builder")
                    .write()
                    .expect("tree")
            } else {
                repo.blob(content).expect("blob")
            };
            b.insert(FILE_NAME, id, mode).expect("insert");
            repo.find_tree(b.write().expect("tree")).expect("tree")
        };
        let read = |mode, content: &[u8]| {
            FileLayer::from_tree(&repo, &tree_with(mode, content), "HEAD").map(|f| f.is_some())
        };
        assert!(read(0o100644, b"verbosity = \"quiet\"\n").expect("regular"));
        assert!(read(0o100755, b"").expect("executable is still a file"));
        // A link's blob is its target's path: never parsed as the configuration.
        let e = read(0o120000, b"/proc/self/environ").expect_err("a link");
        assert_eq!(e.to_string(), "HEAD:.dockguard.toml is a symbolic link");
        assert!(e
            .hint()
            .is_some_and(|h| h.contains("commit the configuration itself")));
        let e = read(0o040000, b"").expect_err("a directory");
        assert_eq!(
            e.to_string(),
            "HEAD:.dockguard.toml is a directory, not a regular file"
        );
        let big = vec![b'#'; usize::try_from(MAX_CONFIG_BYTES).expect("size") + 1];
        let e = read(0o100644, &big).expect_err("too large");
        assert!(
            e.to_string()
                .contains("more than the 1048576 dockguard reads"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
