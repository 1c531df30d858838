//! The static binary for CI jobs (`scripts/build-static.sh`): no loader and no shared
//! library in the ELF file, and it runs, judges a real repository and resolves host names
//! from an empty chroot, where a dynamically linked program cannot even start.
//!
//! `./test.sh` builds it (`scripts/build-static.sh --profile dev`) and passes its path in
//! `DOCKGUARD_STATIC_BIN`; the tests are `#[ignore]`d for a plain `cargo test`. chroot
//! needs root (as in ./test.sh's CI container) or unprivileged user namespaces.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fixture::{dockguard, dockguard_bin, hermetic, with_master};

/// The static build under test.
pub fn static_bin() -> PathBuf {
    let path = std::env::var_os("DOCKGUARD_STATIC_BIN").unwrap_or_else(|| {
        panic!(
            "needs a static build: set DOCKGUARD_STATIC_BIN to the output of \
             `scripts/build-static.sh --profile dev` (./test.sh does both)"
        )
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "DOCKGUARD_STATIC_BIN={} is not a file",
        path.display()
    );
    path
}

/// What the ELF file asks of the dynamic loader.
#[derive(Debug)]
struct Linkage {
    /// PT_INTERP: the loader the kernel must start first.
    interp: Option<String>,
    /// DT_NEEDED entries: shared libraries the loader must find.
    needed: usize,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u64_at(b: &[u8], at: usize) -> usize {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    usize::try_from(u64::from_le_bytes(w)).expect("fits")
}

/// Reads the program headers of an x86_64 ELF executable (and its dynamic section).
fn linkage(path: &Path) -> Linkage {
    let b = std::fs::read(path).expect("read binary");
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!((b[4], b[5]), (2, 1), "ELF64 little-endian");
    assert_eq!(u16_at(&b, 0x12), 62, "EM_X86_64");
    let (phoff, phentsize, phnum) = (u64_at(&b, 0x20), u16_at(&b, 0x36), u16_at(&b, 0x38));
    let mut out = Linkage {
        interp: None,
        needed: 0,
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes([b[ph], b[ph + 1], b[ph + 2], b[ph + 3]]);
        let (offset, size) = (u64_at(&b, ph + 8), u64_at(&b, ph + 32));
        match p_type {
            3 => {
                let s = &b[offset..offset + size];
                out.interp = Some(String::from_utf8_lossy(s).trim_end_matches('\0').to_owned());
            }
            2 => {
                for d in (offset..offset + size).step_by(16) {
                    match u64_at(&b, d) {
                        0 => break,
                        1 => out.needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn ldd(path: &Path) -> String {
    let out = Command::new("ldd")
        .arg(path)
        .output()
        .expect("run ldd (glibc's)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[ignore = "needs a static build"]
fn the_static_binary_needs_no_loader_and_no_shared_library() {
    let bin = static_bin();
    let own = linkage(&bin);
    assert_eq!(own.interp, None, "{own:?}");
    assert_eq!(own.needed, 0, "{own:?}");
    // glibc's ldd says "not a dynamic executable" for static non-PIE executables and
    // "statically linked" for static-pie ones (what rustc links with +crt-static).
    let says = ldd(&bin);
    assert!(
        says.contains("statically linked") || says.contains("not a dynamic executable"),
        "ldd {}: {says}",
        bin.display()
    );
    assert!(!says.contains("=>"), "ldd lists libraries: {says}");
    // The same reader and ldd see the normal test build as what it is: dynamic.
    let normal = linkage(Path::new(dockguard_bin()));
    assert!(
        normal.interp.is_some() && normal.needed > 0,
        "the normal build must look dynamic to this check: {normal:?}"
    );
    assert!(ldd(Path::new(dockguard_bin())).contains("libc.so"));
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// Runs `PROGRAM ARGS` chrooted into `root`, with a hermetic environment.
fn in_chroot(root: &Path, program: &str, args: &[&str]) -> Output {
    let mut cmd = if is_root() {
        Command::new("chroot")
    } else {
        // An unprivileged user namespace gives CAP_SYS_CHROOT there.
        let mut c = Command::new("unshare");
        c.args(["--user", "--map-root-user", "chroot"]);
        c
    };
    hermetic(&mut cmd)
        .env("HOME", "/")
        .arg(root)
        .arg(program)
        .args(args)
        .output()
        .expect("run chroot")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Copies `bin` to `root/name`, executable.
fn install(bin: &Path, root: &Path, name: &str) {
    std::fs::copy(bin, root.join(name)).expect("copy binary into the chroot");
}

#[test]
#[ignore = "needs a static build"]
fn version_and_a_real_check_run_from_an_empty_chroot() {
    let (r, base) = with_master();
    r.switch_new("feature", base);
    r.filler(2, "work");
    r.commit("bump debian", &[("docker/Dockerfile", "FROM debian:13\n")]);
    // The chroot is the repository's temp dir: `work/` (the repository) and the binary,
    // nothing else: no /lib, no /etc, no /dev, no /proc, no git.
    let root = r.tmp.path();
    install(&static_bin(), root, "dockguard");
    let entries: Vec<_> = std::fs::read_dir(root)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");

    let version = in_chroot(root, "/dockguard", &["--version"]);
    let (out, err) = text(&version);
    assert!(version.status.success(), "{out}{err}");
    let expected = dockguard(r.path(), &["--version"], &[]);
    assert_eq!(
        out, expected.stdout,
        "the static build is this commit's build"
    );

    let args = ["check", "--format", "json", "--commits"];
    let mut chrooted = vec!["-C", "/work"];
    chrooted.extend(args);
    let run = in_chroot(root, "/dockguard", &chrooted);
    let (out, err) = text(&run);
    assert!(run.status.success(), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["rebuild"], true, "{v}");
    assert_eq!(v["targets"][0]["changes"][0]["path"], "docker/Dockerfile");
    assert_eq!(v["targets"][0]["merge_base"], base.to_string());
    // The same verdict as the normal build's, byte for byte but for the paths shown.
    let normal = dockguard(r.path(), &args, &[]);
    assert_eq!(normal.code, 0, "{}", normal.stderr);
    let normal = normal
        .stdout
        .replace(&r.path().display().to_string(), "/work");
    assert_eq!(out, normal);

    // A dynamically linked program in the same place cannot start (the test's premise).
    install(Path::new(dockguard_bin()), root, "dockguard-dynamic");
    let dynamic = in_chroot(root, "/dockguard-dynamic", &["--version"]);
    assert!(!dynamic.status.success(), "{:?}", text(&dynamic));
}

/// A DNS server for the chroot's /etc/resolv.conf: answers A queries for `names` with
/// their address, NXDOMAIN for everything else, and records what was asked.
struct LoopbackDns {
    addr: Ipv4Addr,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackDns {
    fn start(names: &[(&str, Ipv4Addr)]) -> LoopbackDns {
        // Any 127/8 address is on the loopback interface; one of its own keeps clear of a
        // local resolver on 127.0.0.1:53 or 127.0.0.53:53.
        let (socket, addr) = (1..=200u8)
            .find_map(|last| {
                let addr = Ipv4Addr::new(127, 53, 77, last);
                match UdpSocket::bind((addr, 53)) {
                    Ok(s) => Some((s, addr)),
                    Err(e) if e.kind() == ErrorKind::AddrInUse => None,
                    Err(e) => {
                        panic!("needs root: binding {addr}:53 for the stub DNS server failed: {e}")
                    }
                }
            })
            .expect("a free 127.53.77.x:53");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let names: Vec<(String, Ipv4Addr)> =
            names.iter().map(|(n, a)| ((*n).to_owned(), *a)).collect();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (asked2, stop2) = (asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((reply, name)) = answer(&buf[..n], &names) {
                    asked2.lock().expect("lock").push(name);
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        LoopbackDns {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LoopbackDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to one DNS query (RFC 1035 4.1), and the name asked for.
fn answer(q: &[u8], names: &[(String, Ipv4Addr)]) -> Option<(Vec<u8>, String)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*q.get(at)?, *q.get(at + 1)?]);
    let question = q.get(12..at + 4)?;
    let name = labels.join(".");
    let found = names.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
    let rcode = if found.is_some() { 0 } else { 3 };
    let a_record = found.filter(|_| qtype == 1);
    let mut r = Vec::with_capacity(64);
    r.extend_from_slice(&q[..2]); // id
    r.extend_from_slice(&[0x81 | (q[2] & 0x01), 0x80 | rcode]); // QR, RD echoed, RA
    r.extend_from_slice(&[0, 1, 0, u8::from(a_record.is_some()), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if let Some(ip) = a_record {
        // name: pointer to the question's; type A, class IN, TTL 60, 4 bytes.
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend_from_slice(&ip.octets());
    }
    Some((r, name))
}

/// A program that resolves each argument with std's `ToSocketAddrs` (glibc's getaddrinfo,
/// what ureq's default resolver and every std-based client call), built with the flags of
/// scripts/build-static.sh.
fn static_resolver(dir: &Path) -> PathBuf {
    let src = dir.join("resolve.rs");
    std::fs::write(
        &src,
        r#"use std::net::ToSocketAddrs;
fn main() {
    for name in std::env::args().skip(1) {
        match (name.as_str(), 443).to_socket_addrs() {
            Ok(a) => println!("{name} {}", a.map(|a| a.ip().to_string()).collect::<Vec<_>>().join(",")),
            Err(e) => println!("{name} error: {e}"),
        }
    }
}
"#,
    )
    .expect("write resolver");
    let bin = dir.join("resolve");
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["-C", "target-feature=+crt-static", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run rustc");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(linkage(&bin).interp, None, "the resolver is static");
    bin
}

#[test]
#[ignore = "needs root: chroot, and a DNS server on port 53"]
fn static_glibc_resolves_names_from_hosts_and_dns_in_an_empty_chroot() {
    let tools = tempfile::tempdir().expect("tempdir");
    let resolver = static_resolver(tools.path());
    let dns = LoopbackDns::start(&[("registry.dockguard.test", Ipv4Addr::new(192, 0, 2, 77))]);
    let root = tempfile::tempdir().expect("tempdir");
    let root = root.path();
    std::fs::create_dir(root.join("etc")).expect("mkdir etc");
    install(&resolver, root, "resolve");
    std::fs::write(
        root.join("etc/hosts"),
        "127.0.0.1 localhost\n192.0.2.10 registry.local\n",
    )
    .expect("hosts");
    std::fs::write(
        root.join("etc/resolv.conf"),
        format!("nameserver {}\noptions timeout:1 attempts:2\n", dns.addr),
    )
    .expect("resolv.conf");

    let resolve = |names: &[&str]| {
        let o = in_chroot(root, "/resolve", names);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        out
    };
    // No nsswitch.conf at all (a scratch image): glibc's built-in default, files then dns.
    let out = resolve(&[
        "localhost",
        "registry.local",
        "registry.dockguard.test",
        "missing.dockguard.test",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "localhost 127.0.0.1", "{out}");
    assert_eq!(lines[1], "registry.local 192.0.2.10", "/etc/hosts: {out}");
    assert_eq!(lines[2], "registry.dockguard.test 192.0.2.77", "DNS: {out}");
    assert!(
        lines[3].starts_with("missing.dockguard.test error:"),
        "{out}"
    );
    let asked = dns.asked.lock().expect("lock").clone();
    assert!(
        asked.iter().any(|n| n == "registry.dockguard.test"),
        "the answer came over DNS: {asked:?}"
    );
    assert!(
        !asked.iter().any(|n| n == "registry.local"),
        "/etc/hosts answered first: {asked:?}"
    );

    // An nsswitch.conf naming services that would be shared libraries (systemd's
    // myhostname and resolve, mdns): absent here, skipped, and files + dns still answer.
    std::fs::write(
        root.join("etc/nsswitch.conf"),
        "hosts: files myhostname mdns4_minimal resolve dns\n",
    )
    .expect("nsswitch.conf");
    let out = resolve(&["registry.local", "registry.dockguard.test"]);
    assert_eq!(
        out,
        "registry.local 192.0.2.10\nregistry.dockguard.test 192.0.2.77\n"
    );
}
