//! Loading a compose project: its files read and interpolated, `include:` and
//! `extends:` applied, as compose-go loads them.

use super::super::super::dockerfile::ANY;
use super::super::super::view::parent;
use super::super::super::yaml::{self, Y};
use super::super::under;
use super::interp::{dotenv, Env};
use super::model::{
    interpolated, locate, merge, merge_into, service, Loc, RawFile, Service, Services,
};
use super::{join, read, Project, MAX_DEPTH};

impl Project<'_> {
    /// The project of `paths` (the first is the entry file, `text` its content), in
    /// `dir`.
    pub(super) fn project(
        &mut self,
        dir: &str,
        paths: &[String],
        text: &str,
    ) -> Result<(), String> {
        self.env = match read(self.files, &join(dir, ".env"))? {
            Some(t) => dotenv(&t),
            None => Env::new(),
        };
        if let Some(f) = self.env.get("COMPOSE_FILE") {
            // `.env` chooses other files than the ones found here.
            self.opaque(
                &paths[0],
                0,
                "the project".into(),
                format!("its .env sets COMPOSE_FILE={f}: which files make the project is not resolved here"),
            );
            return Ok(());
        }
        let env = self.env.clone();
        let mut services = Services::new();
        for (i, path) in paths.iter().enumerate() {
            let raw = if i == 0 {
                self.raw(path, dir, Some(text), &env)?
            } else {
                self.raw(path, dir, None, &env)?
            };
            let loaded = self.file_services(&raw, &env, &mut vec![path.clone()], 0)?;
            merge_into(&mut services, loaded);
        }
        self.declare(dir, &paths[0], &services);
        Ok(())
    }

    /// A file's text, parsed and interpolated.
    fn raw(
        &self,
        path: &str,
        base: &str,
        text: Option<&str>,
        env: &Env,
    ) -> Result<RawFile, String> {
        let owned;
        let text = match text {
            Some(t) => t,
            None => {
                owned =
                    read(self.files, path)?.ok_or_else(|| format!("{path} is not in the tree"))?;
                &owned
            }
        };
        let docs = yaml::load(text).map_err(|e| format!("{path}: {e}"))?;
        let mut doc = Y::Map(Vec::new());
        // Several documents in one file merge in order.
        for d in docs {
            if let (Y::Map(into), Y::Map(more)) = (&mut doc, interpolated(&d, env)) {
                into.extend(more);
            }
        }
        Ok(RawFile {
            path: path.to_owned(),
            base: base.to_owned(),
            doc,
        })
    }

    /// The services of one file, with its `include:` and `extends:` applied.
    fn file_services(
        &mut self,
        raw: &RawFile,
        env: &Env,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Result<Services, String> {
        let mut services = Services::new();
        if let Some(Y::Seq(includes)) = raw.doc.get("include") {
            for inc in includes {
                let included = self.include(raw, inc, env, chain, depth)?;
                merge_into(&mut services, included);
            }
        }
        let mut own = Services::new();
        for (name, _) in raw.services() {
            let s = self.extended(raw, &services, name, env, &mut Vec::new(), depth)?;
            own.push((name.to_owned(), s));
        }
        // The including file's definitions win over the included ones.
        merge_into(&mut services, own);
        Ok(services)
    }

    /// One `include:` entry: the included project's services.
    fn include(
        &mut self,
        raw: &RawFile,
        inc: &Y,
        env: &Env,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Result<Services, String> {
        let line = inc.line();
        let listed: Vec<String> = match inc {
            Y::Str(p, _) => vec![p.clone()],
            _ => match inc.get("path") {
                Some(Y::Str(p, _)) => vec![p.clone()],
                Some(Y::Seq(ps)) => ps.iter().filter_map(Y::str).map(str::to_owned).collect(),
                _ => Vec::new(),
            },
        };
        let mut paths = Vec::new();
        for p in &listed {
            match locate(&raw.base, p) {
                Loc::Repo(path) if !path.contains(ANY) => paths.push(path),
                _ => {
                    self.opaque(
                        &raw.path,
                        line,
                        "include".into(),
                        format!(
                            "it includes `{p}`, which is not a file of the repository known here"
                        ),
                    );
                    return Ok(Services::new());
                }
            }
        }
        let Some(first) = paths.first() else {
            return Ok(Services::new());
        };
        if depth >= MAX_DEPTH || chain.contains(first) {
            self.opaque(
                &raw.path,
                line,
                "include".into(),
                format!("its includes of `{first}` nest too deeply or loop"),
            );
            return Ok(Services::new());
        }
        let dir = match inc.get("project_directory").and_then(Y::str) {
            Some(d) => match locate(&raw.base, d) {
                Loc::Repo(d) if !d.contains(ANY) => d,
                _ => {
                    self.opaque(
                        &raw.path,
                        line,
                        "include".into(),
                        format!("its project_directory `{d}` is not known here"),
                    );
                    return Ok(Services::new());
                }
            },
            None => String::from_utf8_lossy(parent(first.as_bytes())).into_owned(),
        };
        // The included project's variables: its env files (default its `.env`), under
        // those of the including project.
        let env_files: Vec<String> = match inc.get("env_file") {
            Some(Y::Str(f, _)) => vec![f.clone()],
            Some(Y::Seq(fs)) => fs.iter().filter_map(Y::str).map(str::to_owned).collect(),
            _ => vec![".env".to_owned()],
        };
        let mut inc_env = env.clone();
        for f in env_files {
            let from = if inc.get("env_file").is_some() {
                &raw.base
            } else {
                &dir
            };
            if let Some(path) = under(from, &f) {
                if let Some(t) = read(self.files, &path)? {
                    for (k, v) in dotenv(&t) {
                        inc_env.entry(k).or_insert(v);
                    }
                }
            }
        }
        chain.push(first.clone());
        let mut services = Services::new();
        for p in &paths {
            let inc_raw = self.raw(p, &dir, None, &inc_env);
            let inc_raw = match inc_raw {
                Ok(r) => r,
                Err(e) => {
                    self.opaque(&raw.path, line, "include".into(), e);
                    chain.pop();
                    return Ok(Services::new());
                }
            };
            let s = self.file_services(&inc_raw, &inc_env, chain, depth + 1)?;
            merge_into(&mut services, s);
        }
        chain.pop();
        // Its defaults are its own: a build without a context builds its directory.
        for (_, s) in &mut services {
            if let Some(b) = &mut s.build {
                b.context.get_or_insert_with(|| Loc::Repo(dir.clone()));
            }
        }
        Ok(services)
    }

    /// A service of `raw` with its `extends:` chain applied.
    /// `included`: the services its `include:` brought (which `extends` may name too).
    fn extended(
        &mut self,
        raw: &RawFile,
        included: &Services,
        name: &str,
        env: &Env,
        chain: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<Service, String> {
        let Some((_, y)) = raw.services().into_iter().find(|(n, _)| *n == name) else {
            let from_include = included.iter().find(|(n, _)| n == name);
            return Ok(from_include.map(|(_, s)| s.clone()).unwrap_or_default());
        };
        let own = service(&raw.path, &raw.base, y);
        let Some(ext) = y.get("extends") else {
            return Ok(own);
        };
        let line = y.line();
        let (of, file) = match ext {
            Y::Str(s, _) => (s.clone(), None),
            _ => (
                ext.get("service").and_then(Y::str).unwrap_or("").to_owned(),
                ext.get("file").and_then(Y::str).map(str::to_owned),
            ),
        };
        let key = (file.clone().unwrap_or_else(|| raw.path.clone()), of.clone());
        if depth + chain.len() >= MAX_DEPTH || chain.contains(&key) || of.is_empty() {
            self.opaque(
                &raw.path,
                line,
                format!("service `{name}`"),
                format!("its extends of `{of}` loops, nests too deeply or names no service"),
            );
            return Ok(own);
        }
        chain.push(key);
        let parent = match file {
            None => self.extended(raw, included, &of, env, chain, depth)?,
            Some(f) => match locate(&raw.base, &f) {
                Loc::Repo(path) if !path.contains(ANY) => {
                    let dir = String::from_utf8_lossy(parent(path.as_bytes())).into_owned();
                    match self.raw(&path, &dir, None, env) {
                        Ok(other) => {
                            self.extended(&other, &Services::new(), &of, env, chain, depth)?
                        }
                        Err(e) => {
                            self.opaque(&raw.path, line, format!("service `{name}`"), e);
                            Service::default()
                        }
                    }
                }
                _ => {
                    self.opaque(
                        &raw.path,
                        line,
                        format!("service `{name}`"),
                        format!("it extends a service of `{f}`, which is not a file of the repository known here"),
                    );
                    Service::default()
                }
            },
        };
        chain.pop();
        Ok(merge(parent, own))
    }
}
