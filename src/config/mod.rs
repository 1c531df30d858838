//! Layered settings: defaults < `.dockguard.toml` < `git config dockguard.*` < env
//! `DOCKGUARD_*` < flags.
//!
//! Every key is declared once in [`KEYS`] (name, type, default, doc); the file parser, the
//! git-config reader, the environment reader, `dockguard status` and the README reference
//! all follow that table, so a key cannot exist in one layer and not another.
//!
//! The file layer is read from the *target commit's tree* (a commit is judged by the rules
//! it carries), falling back to the work tree's file, then to nothing. The other layers are
//! the same for every target of a run, so they are read once ([`Overrides`]) and merged
//! with each target's file layer ([`Overrides::resolve`]), which is cheap.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::engine::matcher::MatchSpec;
use crate::error::{Error, Result};

/// The configuration file's name, at the repository root.
pub const FILE_NAME: &str = ".dockguard.toml";

/// The type of a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false` (git config and env also take yes/no/on/off/1/0).
    Bool,
    /// Free text.
    Str,
    /// A list of strings (env: comma-separated; git config: a multi-valued key).
    List,
    /// A whole number within bounds.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// An array of tables (`[[name]]` in TOML), each with the given fields; only the
    /// file layer can set it (it has no git config or environment form).
    Tables(&'static [Field]),
}

/// A field of a [`Kind::Tables`] key.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name inside each table.
    pub name: &'static str,
    /// Its type (`Str` or `List`).
    pub kind: Kind,
    /// Must every table have it?
    pub required: bool,
    /// One line for README.
    pub doc: &'static str,
}

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// Dotted name: TOML `[a] b`, git config `dockguard.a.b`, env `DOCKGUARD_A_B`.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The default, as it would be written in TOML.
    pub default: &'static str,
    /// One line for README and `status`.
    pub doc: &'static str,
}

/// Every key dockguard reads.
pub const KEYS: &[Key] = &[
    Key {
        name: "upstream",
        kind: Kind::Str,
        default: "(auto)",
        doc: "the branch that counts as master: `REMOTE/BRANCH` or a full ref; default: remote `upstream` else `origin`, branch from its HEAD, else master, else main",
    },
    Key {
        name: "match.defaults",
        kind: Kind::Bool,
        default: "true",
        doc: "count the built-in dockerfile names (Dockerfile, Dockerfile.*, *.Dockerfile, *.dockerfile, Containerfile, Containerfile.*, *.docker)",
    },
    Key {
        name: "match.dockerfiles",
        kind: Kind::List,
        default: "[]",
        doc: "extra dockerfile globs",
    },
    Key {
        name: "match.dockerfile_regex",
        kind: Kind::List,
        default: "[]",
        doc: "extra dockerfile regexes, matched against the whole path",
    },
    Key {
        name: "match.inputs",
        kind: Kind::List,
        default: "[]",
        doc: "globs of other files images are built from (e.g. `tests/docker/dockerfiles/**`)",
    },
    Key {
        name: "match.input_regex",
        kind: Kind::List,
        default: "[]",
        doc: "regexes of other files images are built from, matched against the whole path",
    },
    Key {
        name: "match.exclude",
        kind: Kind::List,
        default: "[]",
        doc: "globs that never count, even when another pattern matches",
    },
    Key {
        name: "push_option",
        kind: Kind::Str,
        default: "ci.variable=DOCKGUARD_REBUILD=1",
        doc: "the push option that asks CI to rebuild images (`git push -o VALUE`); GitLab's form by default",
    },
    Key {
        name: "max_commits",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        doc: "how many commits `--commits` examines per target before it stops (and says so)",
    },
    Key {
        name: "ci.upstream_url",
        kind: Kind::Str,
        default: "(remote upstream, else origin)",
        doc: "`dockguard ci`: where to fetch the upstream branch from, a URL or a remote name (a fork's upstream project)",
    },
    Key {
        name: "ci.upstream_branch",
        kind: Kind::Str,
        default: "(auto)",
        doc: "`dockguard ci`: the upstream branch; default: the MR/PR target branch, else the default branch (CI_DEFAULT_BRANCH, GitHub's event, the remote's HEAD)",
    },
    Key {
        name: "ci.request_variable",
        kind: Kind::Str,
        default: "DOCKGUARD_REBUILD",
        doc: "`dockguard ci`: the pipeline variable that requests a rebuild (set by the push option)",
    },
    Key {
        name: "ci.depth",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "50",
        doc: "`dockguard ci` in a shallow clone: commits fetched first, and the first deepening step (doubled each round)",
    },
    Key {
        name: "ci.max_depth",
        kind: Kind::Int {
            min: 1,
            max: 100_000_000,
        },
        default: "10000",
        doc: "`dockguard ci`: stop deepening step by step after this many commits",
    },
    Key {
        name: "ci.unshallow",
        kind: Kind::Bool,
        default: "true",
        doc: "`dockguard ci`: when deepening did not find the merge-base, fetch the whole history (`--unshallow`)",
    },
    Key {
        name: "policy",
        kind: Kind::Choice(&["block", "warn", "repush"]),
        default: "block",
        doc: "what the pre-push hook does when a push needs a rebuild and does not ask for it: `block` (stop it, print the command to re-run), `warn` (print, let it through), `repush` (push the same refs itself with the option, then stop the original push)",
    },
    Key {
        name: "remotes",
        kind: Kind::List,
        default: "[]",
        doc: "which pushes the hook judges: remote names (`origin`), or `/REGEX/` searched in the remote URL; empty: every remote",
    },
    Key {
        name: "on_error",
        kind: Kind::Choice(&["block", "allow"]),
        default: "block",
        doc: "what the pre-push hook does when it cannot decide (bad config, no upstream, unreadable input): `block` the push (exit 2) or `allow` it with a warning",
    },
    Key {
        name: "images.parent",
        kind: Kind::List,
        default: "[]",
        doc: "how FROM lines name this repository's images: templates with `{name}` (e.g. `qemu/{name}`, `$CI_REGISTRY_IMAGE/qemu/{name}`); a FROM whose image (tag and digest removed) matches one is built on that image",
    },
    Key {
        name: "images.rule",
        kind: Kind::Tables(IMAGE_RULE_FIELDS),
        default: "[]",
        doc: "naming rules for images, first match wins, before the built-in ones: `[[images.rule]]` tables with `dockerfile` (regex with a `name` group), optional `name`, `context` and `inputs` (see README)",
    },
    Key {
        name: "verbosity",
        kind: Kind::Choice(&["quiet", "normal", "verbose"]),
        default: "normal",
        doc: "how much the pre-push hook says: `quiet` (one line when nothing needs a rebuild), `normal`, `verbose` (why each pushed ref was judged as it was); `-q` / `-v` override it",
    },
];

/// The fields of an `[[images.rule]]` table.
pub const IMAGE_RULE_FIELDS: &[Field] = &[
    Field {
        name: "dockerfile",
        kind: Kind::Str,
        required: true,
        doc: "regex matched against the whole dockerfile path; its `name` group names the image",
    },
    Field {
        name: "name",
        kind: Kind::Str,
        required: false,
        doc: "the image name instead of the `name` group; `{name}` and `{dir}` are substituted",
    },
    Field {
        name: "context",
        kind: Kind::Str,
        required: false,
        doc: "the build context, relative to the repository root (`.` is the root); `{name}`, `{dir}` substituted; default `{dir}`",
    },
    Field {
        name: "inputs",
        kind: Kind::List,
        required: false,
        doc: "more globs (from the repository root) the image is built from; `{name}`, `{dir}` substituted",
    },
];

/// Looks a key up by name.
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

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

/// One layer: key -> value, all validated against [`KEYS`].
#[derive(Debug, Clone, Default)]
pub struct Layer {
    values: BTreeMap<&'static str, (Value, Origin)>,
}

impl Layer {
    fn set(&mut self, key: &'static str, value: Value, origin: Origin) {
        self.values.insert(key, (value, origin));
    }
}

/// A parsed `.dockguard.toml`.
#[derive(Debug, Clone, Default)]
pub struct FileLayer(Layer);

impl FileLayer {
    /// Parses the file's text; `origin` names it in errors (e.g. `HEAD:.dockguard.toml`).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let table: toml::Table = toml::from_str(text).map_err(|e| Error::Config {
            origin: origin.to_owned(),
            message: format!("not valid TOML: {}", one_line(&e.to_string())),
        })?;
        let mut layer = Layer::default();
        flatten(&table, "", origin, &mut layer)?;
        Ok(FileLayer(layer))
    }

    /// Reads the file from a commit's tree, or `None` when the tree has none.
    pub fn from_tree(
        repo: &git2::Repository,
        tree: &git2::Tree<'_>,
        describe: &str,
    ) -> Result<Option<Self>> {
        let Some(entry) = tree.get_name(FILE_NAME) else {
            return Ok(None);
        };
        let origin = format!("{describe}:{FILE_NAME}");
        let blob = repo
            .find_blob(entry.id())
            .map_err(|e| Error::git(format!("cannot read {origin}"), e))?;
        let text = std::str::from_utf8(blob.content()).map_err(|_| Error::Config {
            origin: origin.clone(),
            message: "is not UTF-8 text".into(),
        })?;
        Self::parse(text, &origin).map(Some)
    }

    /// Reads the work tree's file, or `None` when there is none.
    pub fn from_workdir(workdir: &Path) -> Result<Option<Self>> {
        let path = workdir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }
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
        if let Kind::Tables(fields) = key.kind {
            let value = tables_from_toml(key.name, fields, v, origin)?;
            layer.set(key.name, value, Origin::File(origin.to_owned()));
            continue;
        }
        let value = from_toml(key, v).ok_or_else(|| Error::Config {
            origin: origin.to_owned(),
            message: format!(
                "`{name}` must be {}, not {}",
                expected(key.kind),
                toml_type(v)
            ),
        })?;
        check_value(key, &value, origin)?;
        layer.set(key.name, value, Origin::File(origin.to_owned()));
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

fn from_toml(key: &Key, v: &toml::Value) -> Option<Value> {
    Some(match (key.kind, v) {
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
            let pseudo = Key {
                name: field.name,
                kind: field.kind,
                default: "",
                doc: field.doc,
            };
            let value = from_toml(&pseudo, v).ok_or_else(|| {
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

fn expected(kind: Kind) -> String {
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

/// The environment variable for a key.
pub fn env_name(key: &Key) -> String {
    format!(
        "DOCKGUARD_{}",
        key.name.replace('.', "_").to_ascii_uppercase()
    )
}

/// The layers above the file: git config, environment and flags, read once per run.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    git: Layer,
    env: Layer,
    flags: Layer,
}

impl Overrides {
    /// Reads `dockguard.*` from the repository's config (all levels), the `DOCKGUARD_*`
    /// variables in `env`, and the flags given as `(key, text, flag name)`.
    pub fn load(
        config: Option<&git2::Config>,
        env: &BTreeMap<String, String>,
        flags: &[(&'static str, String, &'static str)],
    ) -> Result<Self> {
        let mut o = Overrides::default();
        if let Some(config) = config {
            o.git = read_git_config(config)?;
        }
        for key in KEYS {
            let var = env_name(key);
            if let Some(text) = env.get(&var) {
                let v = parse_text(key, text, &format!("environment variable {var}"))?;
                o.env.set(key.name, v, Origin::Env(var));
            }
        }
        for (name, text, flag) in flags {
            let key = key(name).ok_or_else(|| Error::Usage(format!("internal: no key {name}")))?;
            let v = parse_text(key, text, &format!("flag {flag}"))?;
            o.flags.set(key.name, v, Origin::Flag((*flag).to_owned()));
        }
        Ok(o)
    }

    /// Merges a file layer (if any) under these overrides.
    pub fn resolve(&self, file: Option<&FileLayer>) -> Settings {
        let mut values = BTreeMap::new();
        let layers = file
            .map(|f| &f.0)
            .into_iter()
            .chain([&self.git, &self.env, &self.flags]);
        for layer in layers {
            for (k, v) in &layer.values {
                values.insert(*k, v.clone());
            }
        }
        Settings { values }
    }
}

fn read_git_config(config: &git2::Config) -> Result<Layer> {
    let mut layer = Layer::default();
    let entries = config
        .entries(Some("^dockguard\\."))
        .map_err(|e| Error::git("cannot read git config", e))?;
    let mut lists: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
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
        let name = name.as_str();
        let origin = format!("git config {full}");
        let key = known_key(name, &origin)?;
        if key.kind == Kind::List {
            lists.entry(key.name).or_default().push(text);
        } else {
            // Later entries (local over global) win, as in git.
            layer.set(
                key.name,
                parse_text(key, &text, &origin)?,
                Origin::GitConfig,
            );
        }
    }
    for (k, v) in lists {
        layer.set(k, Value::List(v), Origin::GitConfig);
    }
    Ok(layer)
}

/// Effective settings for one target: every key's value and where it came from.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<&'static str, (Value, Origin)>,
}

impl Settings {
    /// The value of a key (its default when unset).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// Where a key's value came from.
    pub fn origin(&self, name: &str) -> Origin {
        self.values
            .get(name)
            .map_or(Origin::Default, |(_, o)| o.clone())
    }

    /// A string key, `None` when unset.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A boolean key.
    pub fn bool(&self, name: &str) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => *b,
            _ => key(name).is_some_and(|k| k.default == "true"),
        }
    }

    /// A list key.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(Value::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// A table-array key (empty when unset).
    pub fn tables(&self, name: &str) -> Vec<BTreeMap<String, Value>> {
        match self.get(name) {
            Some(Value::Tables(t)) => t.clone(),
            _ => Vec::new(),
        }
    }

    /// A number key.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => *i,
            _ => key(name).and_then(|k| k.default.parse().ok()).unwrap_or(0),
        }
    }

    /// A string key, its default when unset.
    pub fn string_or_default(&self, name: &str) -> &str {
        self.string(name)
            .or_else(|| key(name).map(|k| k.default))
            .unwrap_or_default()
    }

    /// A choice key, its default when unset.
    pub fn choice(&self, name: &str) -> &str {
        self.string(name)
            .or_else(|| key(name).map(|k| k.default))
            .unwrap_or_default()
    }

    /// The matcher patterns.
    pub fn match_spec(&self) -> MatchSpec {
        MatchSpec {
            defaults: self.bool("match.defaults"),
            dockerfiles: self.list("match.dockerfiles"),
            dockerfile_regex: self.list("match.dockerfile_regex"),
            inputs: self.list("match.inputs"),
            input_regex: self.list("match.input_regex"),
            exclude: self.list("match.exclude"),
        }
    }

    /// Describes where the matcher patterns came from, for error messages.
    pub fn match_origin(&self) -> String {
        let mut origins: Vec<String> = KEYS
            .iter()
            .filter(|k| k.name.starts_with("match."))
            .map(|k| self.origin(k.name).to_string())
            .collect();
        origins.sort();
        origins.dedup();
        origins.join(" + ")
    }

    /// Every key with its effective value (or default) and origin, for `status`.
    pub fn effective(&self) -> Vec<(&'static Key, String, Origin)> {
        KEYS.iter()
            .map(|k| {
                let v = self
                    .get(k.name)
                    .map_or_else(|| k.default.to_owned(), ToString::to_string);
                (k, v, self.origin(k.name))
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

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_types() {
        let f = FileLayer::parse(
            "upstream = \"upstream/master\"\n[match]\ndefaults = false\ninputs = [\"a/**\"]\n",
            "f",
        )
        .expect("valid");
        let s = Overrides::default().resolve(Some(&f));
        assert_eq!(s.string("upstream"), Some("upstream/master"));
        assert!(!s.bool("match.defaults"));
        assert_eq!(s.list("match.inputs"), vec!["a/**".to_owned()]);
        assert_eq!(s.origin("upstream"), Origin::File("f".into()));
        assert_eq!(s.int("max_commits"), 1000);
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
    fn env_and_flags_override_file() {
        let f = FileLayer::parse("upstream = \"a/b\"\n", "f").expect("valid");
        let mut env = BTreeMap::new();
        env.insert("DOCKGUARD_UPSTREAM".to_owned(), "c/d".to_owned());
        env.insert("DOCKGUARD_MATCH_INPUTS".to_owned(), "x/**, y/**".to_owned());
        let o = Overrides::load(None, &env, &[]).expect("valid");
        let s = o.resolve(Some(&f));
        assert_eq!(s.string("upstream"), Some("c/d"));
        assert_eq!(
            s.origin("upstream"),
            Origin::Env("DOCKGUARD_UPSTREAM".into())
        );
        assert_eq!(
            s.list("match.inputs"),
            vec!["x/**".to_owned(), "y/**".to_owned()]
        );
        let o = Overrides::load(None, &env, &[("upstream", "e/f".into(), "--upstream")])
            .expect("valid");
        assert_eq!(o.resolve(Some(&f)).string("upstream"), Some("e/f"));
        let mut env = BTreeMap::new();
        env.insert("DOCKGUARD_MATCH_DEFAULTS".to_owned(), "maybe".to_owned());
        let e = Overrides::load(None, &env, &[])
            .expect_err("bad")
            .to_string();
        assert!(
            e.contains("DOCKGUARD_MATCH_DEFAULTS") && e.contains("true or false"),
            "{e}"
        );
    }
}
