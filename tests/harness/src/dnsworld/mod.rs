//! A local DNS internet that serves whatever moto's Route 53 holds.
//!
//! [`DnsWorld::start`] reads every public hosted zone of the given accounts (and the
//! registrations of a registrar account, and of the world's own [`Registry`]) from moto and
//! serves them like the internet would: a fake root, a server for each registry zone from a
//! TLD down to each public suffix in use (root → `kr.` → `co.kr.`, by the Public Suffix List:
//! [`suffix`]), one knotd per set of hosted-zone name servers listening on the
//! addresses of `nsK.zN.zonehop-dns.test`, the zone `zonehop-dns.test.` holding those
//! addresses, and two caching resolvers (unbound, kresd) that start from the fake root.
//! A background task polls moto and serves every change within about a second
//! ([`DnsWorld::settle`] waits for it); [`DnsWorld::freeze_server`] leaves one name server
//! behind on a stale copy. See [`layout`] for who serves what and the address
//! plan, and [`render`] for how Route 53 records become zone files.
//!
//! Every world takes its own block 127.X.0.0/16 and listens on port 53 only (resolvers
//! follow delegations to port 53 only), so it needs root or `unshare -rn` (then
//! `ip link set lo up`). Nothing is ever sent outside 127.0.0.0/8: the resolvers know only
//! the fake root, forward nowhere, and refuse any other destination.
//!
//! ```no_run
//! # async fn example() -> Result<(), zonehop_world::dnsworld::WorldError> {
//! use zonehop_world::dnsworld::{DnsWorld, WorldOptions};
//! let moto = zonehop_world::moto::Moto::start().await;
//! let options = WorldOptions::new(moto.config().await, vec![zonehop_world::source_access()]);
//! let world = DnsWorld::start(options).await?;
//! // ... change something in moto ...
//! world.settle().await?;
//! for resolver in world.resolvers() {
//!     // ask resolver.addr (port 53)
//! }
//! # Ok(()) }
//! ```

mod block;
mod config;
mod daemon;
pub mod layout;
mod probe;
pub mod registry;
pub mod render;
mod source;
pub mod suffix;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;
use zonehop::core::request::AccountAccess;
use zonehop::Name;

use self::daemon::{knotc, Daemon};
use self::layout::{AddressBook, Layout, ServerKey, ServerSpec};
use self::source::Source;

pub use self::layout::NS_DOMAIN;
pub use self::registry::{Registry, RegistryError};

/// The TTLs the world itself decides (the hosted zones' TTLs are moto's). Rehearsals scale
/// them down to seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// TTL of the NS records (and glue) with which a TLD delegates a domain (`.com`: 172800).
    pub delegation: u32,
    /// TTL of the root's and TLDs' own records: TLD delegations, server addresses,
    /// `zonehop-dns.test.`.
    pub infrastructure: u32,
    /// SOA minimum of the root, TLD and `zonehop-dns.test.` zones (negative caching lasts
    /// the smaller of this and `infrastructure`).
    pub negative: u32,
    /// Cap on what both resolvers cache (unbound `cache-max-ttl`, which caps NS too;
    /// kresd `cache.max_ttl`). `None`: their defaults.
    pub resolver_max: Option<u32>,
    /// Cap on negative caching (unbound `cache-max-negative-ttl`). `None`: its default.
    pub resolver_max_negative: Option<u32>,
}

impl Default for Ttls {
    /// The internet's: `.com` delegates for 2 days, its SOA minimum is 900 s.
    fn default() -> Self {
        Ttls {
            delegation: 172_800,
            infrastructure: 172_800,
            negative: 900,
            resolver_max: None,
            resolver_max_negative: None,
        }
    }
}

impl Ttls {
    /// Every TTL of the world set to `seconds` (resolver caps left at their defaults).
    pub fn uniform(seconds: u32) -> Ttls {
        Ttls {
            delegation: seconds,
            infrastructure: seconds,
            negative: seconds,
            resolver_max: None,
            resolver_max_negative: None,
        }
    }
}

/// How to build a world.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// Reaches moto (see [`crate::moto::Moto::config`]).
    pub aws: SdkConfig,
    /// The accounts whose public hosted zones are served (moto keeps accounts apart: each
    /// is read through its role). Their order decides which zone the TLD delegates to when
    /// several zones have the same name and no registration says otherwise: the first.
    pub accounts: Vec<AccountAccess>,
    /// The account whose Route 53 Domains registrations decide delegations at the public
    /// suffixes.
    pub registrar: Option<AccountAccess>,
    /// Registrations kept outside Route 53 Domains (a `manual` registrar): they decide too,
    /// and win over Route 53 Domains for the same domain. Keep a clone to edit them.
    pub registry: Registry,
    pub ttls: Ttls,
    /// The X of 127.X.0.0/16; `None` picks a free one.
    pub block: Option<u8>,
    /// How often moto is read.
    pub poll_interval: Duration,
    /// Public suffixes beyond the Public Suffix List's (see [`suffix`]).
    pub public_suffixes: Vec<String>,
    /// How long [`DnsWorld::settle`] waits at most.
    pub settle_timeout: Duration,
}

impl WorldOptions {
    pub fn new(aws: SdkConfig, accounts: Vec<AccountAccess>) -> WorldOptions {
        WorldOptions {
            aws,
            accounts,
            registrar: None,
            registry: Registry::new(),
            ttls: Ttls::default(),
            block: None,
            poll_interval: Duration::from_millis(200),
            public_suffixes: Vec::new(),
            settle_timeout: Duration::from_secs(60),
        }
    }

    pub fn registrar(mut self, access: AccountAccess) -> WorldOptions {
        self.registrar = Some(access);
        self
    }

    /// Serves the registrations of `registry` (a clone shares them).
    pub fn registry(mut self, registry: Registry) -> WorldOptions {
        self.registry = registry;
        self
    }

    pub fn ttls(mut self, ttls: Ttls) -> WorldOptions {
        self.ttls = ttls;
        self
    }
}

/// A caching resolver of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolver {
    /// `"unbound"` or `"kresd"`.
    pub name: &'static str,
    pub addr: SocketAddr,
}

/// What the background task has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Reads of moto since the start.
    pub polls: u64,
    /// Polls that changed what is served (after the start).
    pub changes_applied: u64,
    /// Zone files (re)loaded by those changes.
    pub zones_reloaded: u64,
    /// When the last change was served.
    pub last_change: Option<Instant>,
    /// How long the last poll took (read, render, reload).
    pub last_poll: Option<Duration>,
}

/// Why the world failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    #[error("binding {addr} was refused ({message}): port 53 needs root. Run as root, or inside a user and network namespace: unshare -rn sh -c 'ip link set lo up; cargo test -p zonehop-tests --test dns_world'")]
    Port53Denied { addr: String, message: String },
    #[error("cannot bind {addr} ({message}): is the loopback interface up? Inside `unshare -rn`, run `ip link set lo up` first")]
    LoopbackDown { addr: String, message: String },
    #[error("no free address block: port 53 of 127.X.255.254 or 127.X.0.1 is taken for every X in 1..=254")]
    NoFreeBlock,
    #[error("{context}: {message}")]
    Io { context: String, message: String },
    #[error("bad world options: {0}")]
    Config(String),
    #[error("cannot start {program}: {message}")]
    Spawn { program: String, message: String },
    #[error("{role} exited unexpectedly ({status}); its last output:\n{output_tail}")]
    ProcessDied {
        role: String,
        status: String,
        output_tail: String,
    },
    #[error("{role} was not ready after {waited:?}; its last output:\n{output_tail}")]
    NotReady {
        role: String,
        waited: Duration,
        output_tail: String,
    },
    #[error("reading moto: {operation}: {message}")]
    Aws { operation: String, message: String },
    #[error("{role} refused to load {zones}: {message}; its last output:\n{output_tail}")]
    ZoneRejected {
        role: String,
        zones: String,
        message: String,
        output_tail: String,
    },
    #[error("the world did not settle within {waited:?} (last error: {last_error})")]
    NotSettled {
        waited: Duration,
        last_error: String,
    },
    #[error("the world's background task has stopped")]
    Stopped,
    #[error("cannot freeze or unfreeze {server}: {reason}")]
    Freeze { server: String, reason: String },
}

impl WorldError {
    /// Worth waiting out (moto hiccups), rather than reported at once.
    fn is_transient(&self) -> bool {
        matches!(self, WorldError::Aws { .. })
    }

    fn io(context: impl Into<String>, error: &std::io::Error) -> WorldError {
        WorldError::Io {
            context: context.into(),
            message: error.to_string(),
        }
    }
}

/// The result of one poll, as `settle` sees it.
#[derive(Debug, Clone)]
struct Cycle {
    started: Option<Instant>,
    outcome: Result<(), WorldError>,
    failures_in_a_row: u32,
}

/// What the accessors read.
#[derive(Debug, Clone, Default)]
struct View {
    names: BTreeMap<Name, Ipv4Addr>,
    zone_servers: BTreeMap<String, Vec<Ipv4Addr>>,
    delegated_at: BTreeMap<Name, Ipv4Addr>,
    warnings: Vec<String>,
}

/// State shared by the world's handle and its background task.
#[derive(Debug)]
struct Shared {
    /// Running daemons by directory name. Never locked across an await.
    procs: Mutex<BTreeMap<String, Daemon>>,
    /// Deaths found so far: every later `settle` reports the first.
    failures: Mutex<Vec<WorldError>>,
    view: RwLock<View>,
    stats: Mutex<WorldStats>,
    cycles: watch::Sender<Cycle>,
    poke: Notify,
}

impl Shared {
    /// Records daemons that died since the last look.
    fn check_processes(&self) {
        let mut died = Vec::new();
        if let Ok(mut procs) = self.procs.lock() {
            for daemon in procs.values_mut() {
                if let Some(error) = daemon.check() {
                    died.push(error);
                }
            }
        }
        if !died.is_empty() {
            if let Ok(mut failures) = self.failures.lock() {
                failures.extend(died);
            }
        }
    }

    fn first_failure(&self) -> Option<WorldError> {
        self.failures.lock().ok().and_then(|f| f.first().cloned())
    }

    fn kill_all(&self) {
        if let Ok(mut procs) = self.procs.lock() {
            for daemon in procs.values_mut() {
                daemon.kill();
            }
            procs.clear();
        }
    }
}

/// A server as it runs.
#[derive(Debug)]
struct RunningServer {
    /// What it serves; a zone whose load failed has an empty text, so it is retried.
    spec: ServerSpec,
    /// Its directory's name under the world's directory (and its key in `procs`).
    dir_name: String,
}

/// The background task's state: reads moto, computes the layout, applies it.
#[derive(Debug)]
struct Engine {
    shared: Arc<Shared>,
    dir: PathBuf,
    source: Source,
    book: AddressBook,
    ttls: Ttls,
    suffixes: BTreeSet<Name>,
    running: BTreeMap<ServerKey, RunningServer>,
    /// The last layout computed from moto, before frozen addresses are taken out.
    last_layout: Layout,
    /// Addresses answered by a frozen copy ([`DnsWorld::freeze_server`]): no live server
    /// listens on them.
    frozen: BTreeMap<Ipv4Addr, FrozenServer>,
}

/// A name server answering from a frozen copy of its zones, in its own knotd that the
/// poller never touches (its key in `procs` and directory: `dir_name`).
#[derive(Debug)]
struct FrozenServer {
    name: Name,
    dir_name: String,
}

/// What the world's handle asks of the background task, between two polls.
enum Command {
    Freeze {
        ns_name: String,
        reply: oneshot::Sender<Result<(), WorldError>>,
    },
    Unfreeze {
        ns_name: String,
        reply: oneshot::Sender<Result<(), WorldError>>,
    },
    Tamper {
        ns_name: String,
        edit: Box<dyn Fn(&str) -> String + Send + Sync>,
        reply: oneshot::Sender<Result<(), WorldError>>,
    },
}

fn write_atomically(path: &Path, text: &str) -> Result<(), WorldError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .map_err(|e| WorldError::io(format!("writing {}", tmp.display()), &e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| WorldError::io(format!("renaming {}", tmp.display()), &e))
}

impl Engine {
    fn server_dir(&self, dir_name: &str) -> PathBuf {
        self.dir.join(dir_name)
    }

    fn zone_path(&self, dir_name: &str, stem: &str) -> PathBuf {
        self.server_dir(dir_name)
            .join("zones")
            .join(format!("{stem}.zone"))
    }

    fn write_knot_conf(&self, dir_name: &str, spec: &ServerSpec) -> Result<(), WorldError> {
        let zones: Vec<(String, String)> = spec
            .zones
            .iter()
            .map(|(domain, zone)| {
                (
                    domain.clone(),
                    self.zone_path(dir_name, &zone.file_stem)
                        .display()
                        .to_string(),
                )
            })
            .collect();
        let dir = self.server_dir(dir_name);
        write_atomically(
            &dir.join("knot.conf"),
            &config::knot_conf(&dir, &spec.addrs, &zones),
        )
    }

    fn socket(&self, dir_name: &str) -> PathBuf {
        self.server_dir(dir_name).join("knot.sock")
    }

    fn tail_of(&self, dir_name: &str) -> String {
        self.shared
            .procs
            .lock()
            .ok()
            .and_then(|p| p.get(dir_name).map(Daemon::tail))
            .unwrap_or_default()
    }

    /// `knotc -b zone-reload` of `zones`: returns whether it worked, recording the error.
    async fn reload_zones(
        &self,
        role: &str,
        dir_name: &str,
        zones: &[String],
        errors: &mut Vec<WorldError>,
    ) -> bool {
        if zones.is_empty() {
            return true;
        }
        let mut args = vec!["-b", "zone-reload"];
        args.extend(zones.iter().map(String::as_str));
        match knotc(&self.socket(dir_name), &args).await {
            Ok(_) => true,
            Err(message) => {
                // Let the daemon's log catch up with the failure it reports.
                tokio::time::sleep(Duration::from_millis(20)).await;
                errors.push(WorldError::ZoneRejected {
                    role: role.to_owned(),
                    zones: zones.join(" "),
                    message,
                    output_tail: self.tail_of(dir_name),
                });
                false
            }
        }
    }

    fn unused_dir_name(&self, role: &str) -> String {
        let taken: BTreeSet<&str> = self.running.values().map(|r| r.dir_name.as_str()).collect();
        (0..)
            .map(|i| {
                if i == 0 {
                    role.to_owned()
                } else {
                    format!("{role}-{i}")
                }
            })
            .find(|candidate| !taken.contains(candidate.as_str()))
            .unwrap_or_else(|| role.to_owned())
    }

    /// Reads moto and serves what it holds. Returns how many zone files were (re)loaded.
    async fn cycle(&mut self) -> Result<u64, WorldError> {
        self.shared.check_processes();
        if let Some(failure) = self.shared.first_failure() {
            return Err(failure);
        }
        let snapshot = self.source.snapshot().await?;
        let layout = layout::layout(&snapshot, &mut self.book, &self.ttls, &self.suffixes);
        let reloaded = self.apply(&self.without_frozen(&layout)).await;
        if let Ok(mut view) = self.shared.view.write() {
            *view = View {
                names: layout.names.clone(),
                zone_servers: layout.zone_servers.clone(),
                delegated_at: layout.delegated_at.clone(),
                warnings: layout.warnings.clone(),
            };
        }
        self.last_layout = layout;
        reloaded
    }

    /// `layout` with the frozen addresses taken out of every server's `listen` (a server
    /// left with none is not run): a live knotd never binds a frozen address.
    fn without_frozen(&self, layout: &Layout) -> Layout {
        let mut out = layout.clone();
        out.servers.retain(|_, spec| {
            spec.addrs.retain(|a| !self.frozen.contains_key(a));
            !spec.addrs.is_empty()
        });
        out
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Freeze { ns_name, reply } => {
                let _ = reply.send(self.freeze(&ns_name).await);
            }
            Command::Unfreeze { ns_name, reply } => {
                let _ = reply.send(self.unfreeze(&ns_name).await);
            }
            Command::Tamper {
                ns_name,
                edit,
                reply,
            } => {
                let _ = reply.send(self.tamper(&ns_name, &*edit).await);
            }
        }
    }

    /// Moves the address of `ns_name` from its live knotd to a knotd of its own serving
    /// copies of the zone files the live one serves now.
    async fn freeze(&mut self, ns_name: &str) -> Result<(), WorldError> {
        let refuse = |reason: &str| WorldError::Freeze {
            server: ns_name.to_owned(),
            reason: reason.to_owned(),
        };
        let name = Name::parse(ns_name).map_err(|e| refuse(&format!("not a name: {e}")))?;
        let addr = *self
            .last_layout
            .names
            .get(&name)
            .ok_or_else(|| refuse("not a name server of the world"))?;
        if self.frozen.contains_key(&addr) {
            return Err(refuse("already frozen"));
        }
        let (live_dir, spec) = self
            .running
            .values()
            .find(|r| r.spec.addrs.contains(&addr))
            .map(|r| (r.dir_name.clone(), r.spec.clone()))
            .ok_or_else(|| refuse(&format!("no server of the world listens on {addr}")))?;

        // The copy: the files the live knotd loaded, as they are now.
        let short = name
            .as_str()
            .strip_suffix(&format!(".{NS_DOMAIN}."))
            .map_or_else(|| layout::file_safe(name.as_str()), layout::file_safe);
        let dir_name = format!("frozen-{short}");
        let dir = self.server_dir(&dir_name);
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["zones", "storage", "run"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| WorldError::io(format!("creating {}", dir.display()), &e))?;
        }
        let mut zones = Vec::new();
        for (domain, zone) in &spec.zones {
            let from = self.zone_path(&live_dir, &zone.file_stem);
            let to = self.zone_path(&dir_name, &zone.file_stem);
            std::fs::copy(&from, &to)
                .map_err(|e| WorldError::io(format!("copying {}", from.display()), &e))?;
            zones.push((domain.clone(), to.display().to_string()));
        }
        write_atomically(
            &dir.join("knot.conf"),
            &config::knot_conf(&dir, &[addr], &zones),
        )?;

        // knotd 3.2.6 ignores listen changes on `knotc reload` ("changes of listen(-xdp)
        // require restart"), and a second knotd on a bound address dies (its TCP bind
        // fails): the live server is restarted without the address (with what it served),
        // then the frozen one starts.
        self.frozen.insert(
            addr,
            FrozenServer {
                name: name.clone(),
                dir_name: dir_name.clone(),
            },
        );
        let live = self.without_frozen(&self.last_layout);
        let applied = self.apply(&live).await;
        if self.running.values().any(|r| r.spec.addrs.contains(&addr)) {
            self.frozen.remove(&addr);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(applied
                .err()
                .unwrap_or_else(|| refuse("its live server kept it")));
        }
        if let Err(error) = self.start_frozen(&dir_name, &zones).await {
            // Give the address back to the live server.
            self.frozen.remove(&addr);
            if let Some(daemon) = self
                .shared
                .procs
                .lock()
                .ok()
                .and_then(|mut p| p.remove(&dir_name))
            {
                daemon.stop().await;
            }
            let _ = std::fs::remove_dir_all(&dir);
            let live = self.without_frozen(&self.last_layout);
            let _ = self.apply(&live).await;
            return Err(error);
        }
        // An error of `applied` concerns other servers: the next poll meets it again.
        Ok(())
    }

    async fn start_frozen(
        &self,
        dir_name: &str,
        zones: &[(String, String)],
    ) -> Result<(), WorldError> {
        let dir = self.server_dir(dir_name);
        let conf = dir.join("knot.conf");
        let mut daemon = Daemon::spawn(
            dir_name,
            "knotd",
            [std::ffi::OsStr::new("-c"), conf.as_os_str()],
            &dir,
        )?;
        daemon.wait_knot_control(&self.socket(dir_name)).await?;
        // From now on its death is reported like any other daemon's.
        if let Ok(mut procs) = self.shared.procs.lock() {
            procs.insert(dir_name.to_owned(), daemon);
        }
        let domains: Vec<String> = zones.iter().map(|(d, _)| d.clone()).collect();
        let mut errors = Vec::new();
        if self
            .reload_zones(dir_name, dir_name, &domains, &mut errors)
            .await
        {
            Ok(())
        } else {
            Err(errors.remove(0))
        }
    }

    /// Freezes `ns_name`, then rewrites its copy's zone files with `edit` and reloads them.
    async fn tamper(
        &mut self,
        ns_name: &str,
        edit: &(dyn Fn(&str) -> String + Send + Sync),
    ) -> Result<(), WorldError> {
        self.freeze(ns_name).await?;
        let name = Name::parse(ns_name).map_err(|e| WorldError::Freeze {
            server: ns_name.to_owned(),
            reason: format!("not a name: {e}"),
        })?;
        let dir_name = self
            .frozen
            .values()
            .find(|f| f.name == name)
            .map(|f| f.dir_name.clone())
            .ok_or_else(|| WorldError::Freeze {
                server: ns_name.to_owned(),
                reason: "not frozen after freezing".to_owned(),
            })?;
        let zones = self.server_dir(&dir_name).join("zones");
        let files = std::fs::read_dir(&zones)
            .map_err(|e| WorldError::io(format!("reading {}", zones.display()), &e))?;
        for file in files.flatten() {
            let path = file.path();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| WorldError::io(format!("reading {}", path.display()), &e))?;
            write_atomically(&path, &edit(&text))?;
        }
        daemon::knotc(&self.socket(&dir_name), &["zone-reload"])
            .await
            .map(|_| ())
            .map_err(|reason| WorldError::Freeze {
                server: ns_name.to_owned(),
                reason: format!("reloading the tampered copy: {reason}"),
            })
    }

    /// Stops the frozen copy of `ns_name` and gives its address back to its live server
    /// (restarted with it).
    async fn unfreeze(&mut self, ns_name: &str) -> Result<(), WorldError> {
        let refuse = |reason: &str| WorldError::Freeze {
            server: ns_name.to_owned(),
            reason: reason.to_owned(),
        };
        let name = Name::parse(ns_name).map_err(|e| refuse(&format!("not a name: {e}")))?;
        let addr = self
            .frozen
            .iter()
            .find(|(_, f)| f.name == name)
            .map(|(a, _)| *a)
            .ok_or_else(|| refuse("not frozen"))?;
        if let Some(frozen) = self.frozen.remove(&addr) {
            let daemon = self
                .shared
                .procs
                .lock()
                .ok()
                .and_then(|mut p| p.remove(&frozen.dir_name));
            if let Some(daemon) = daemon {
                daemon.stop().await;
            }
            let _ = std::fs::remove_dir_all(self.server_dir(&frozen.dir_name));
        }
        let live = self.without_frozen(&self.last_layout);
        self.apply(&live).await.map(|_| ())
    }

    /// Brings the servers to `layout`: new servers first, then changed ones in key order
    /// (hosted, infra, TLDs, root: a delegation never points to a server not serving yet),
    /// then the ones no longer needed are stopped.
    async fn apply(&mut self, layout: &Layout) -> Result<u64, WorldError> {
        let mut errors = Vec::new();
        let mut reloaded = 0u64;

        // Servers whose addresses changed are started again.
        let moved: Vec<ServerKey> = self
            .running
            .iter()
            .filter(|(key, running)| {
                layout
                    .servers
                    .get(*key)
                    .is_some_and(|spec| spec.addrs != running.spec.addrs)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in moved {
            self.stop(&key).await;
        }

        // New servers: all spawned, then each awaited.
        let mut starting: Vec<(ServerKey, String, Daemon)> = Vec::new();
        for (key, spec) in &layout.servers {
            if self.running.contains_key(key) || starting.iter().any(|(k, _, _)| k == key) {
                continue;
            }
            let dir_name = {
                let taken: BTreeSet<&str> = starting.iter().map(|(_, d, _)| d.as_str()).collect();
                let mut name = self.unused_dir_name(&spec.role);
                let mut i = 1;
                while taken.contains(name.as_str()) {
                    name = format!("{}-s{i}", spec.role);
                    i += 1;
                }
                name
            };
            let dir = self.server_dir(&dir_name);
            for sub in ["zones", "storage", "run"] {
                std::fs::create_dir_all(dir.join(sub))
                    .map_err(|e| WorldError::io(format!("creating {}", dir.display()), &e))?;
            }
            for zone in spec.zones.values() {
                write_atomically(&self.zone_path(&dir_name, &zone.file_stem), &zone.text)?;
            }
            self.write_knot_conf(&dir_name, spec)?;
            let conf = dir.join("knot.conf");
            let daemon = Daemon::spawn(
                &spec.role,
                "knotd",
                [std::ffi::OsStr::new("-c"), conf.as_os_str()],
                &dir,
            )?;
            starting.push((key.clone(), dir_name, daemon));
        }
        for (key, dir_name, mut daemon) in starting {
            let spec = layout
                .servers
                .get(&key)
                .cloned()
                .unwrap_or_else(|| unreachable!());
            daemon.wait_knot_control(&self.socket(&dir_name)).await?;
            if let Ok(mut procs) = self.shared.procs.lock() {
                procs.insert(dir_name.clone(), daemon);
            }
            let zones: Vec<String> = spec.zones.keys().cloned().collect();
            let mut recorded = spec.clone();
            if self
                .reload_zones(&spec.role, &dir_name, &zones, &mut errors)
                .await
            {
                reloaded += zones.len() as u64;
            } else {
                recorded.zones.values_mut().for_each(|z| z.text.clear());
            }
            self.running.insert(
                key,
                RunningServer {
                    spec: recorded,
                    dir_name,
                },
            );
        }

        // Changed servers, in key order.
        for (key, spec) in &layout.servers {
            let Some(running) = self.running.get(key) else {
                continue;
            };
            let dir_name = running.dir_name.clone();
            let old = running.spec.clone();
            let added_or_removed = old.zones.keys().ne(spec.zones.keys());
            let mut to_load: Vec<String> = Vec::new();
            for (domain, zone) in &spec.zones {
                if old.zones.get(domain).is_none_or(|o| o.text != zone.text) {
                    write_atomically(&self.zone_path(&dir_name, &zone.file_stem), &zone.text)?;
                    to_load.push(domain.clone());
                }
            }
            if added_or_removed {
                self.write_knot_conf(&dir_name, spec)?;
                if let Err(message) = knotc(&self.socket(&dir_name), &["reload"]).await {
                    errors.push(WorldError::ZoneRejected {
                        role: spec.role.clone(),
                        zones: "(configuration)".to_owned(),
                        message,
                        output_tail: self.tail_of(&dir_name),
                    });
                    continue;
                }
            }
            if to_load.is_empty() && !added_or_removed {
                continue;
            }
            let mut recorded = spec.clone();
            if self
                .reload_zones(&spec.role, &dir_name, &to_load, &mut errors)
                .await
            {
                reloaded += to_load.len() as u64;
            } else {
                for domain in &to_load {
                    if let Some(zone) = recorded.zones.get_mut(domain) {
                        zone.text.clear();
                    }
                }
            }
            if let Some(running) = self.running.get_mut(key) {
                running.spec = recorded;
            }
        }

        // Servers no longer needed.
        let gone: Vec<ServerKey> = self
            .running
            .keys()
            .filter(|key| !layout.servers.contains_key(*key))
            .cloned()
            .collect();
        for key in gone {
            self.stop(&key).await;
        }

        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(reloaded),
        }
    }

    async fn stop(&mut self, key: &ServerKey) {
        if let Some(running) = self.running.remove(key) {
            let daemon = self
                .shared
                .procs
                .lock()
                .ok()
                .and_then(|mut p| p.remove(&running.dir_name));
            if let Some(daemon) = daemon {
                daemon.stop().await;
            }
            let _ = std::fs::remove_dir_all(self.server_dir(&running.dir_name));
        }
    }
}

/// The background task: a poll every `interval`, or at once when `settle` asks.
async fn run(
    mut engine: Engine,
    interval: Duration,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut failures_in_a_row = 0;
    loop {
        let started = Instant::now();
        let outcome = engine.cycle().await;
        let elapsed = started.elapsed();
        if let Ok(mut stats) = engine.shared.stats.lock() {
            stats.polls += 1;
            stats.last_poll = Some(elapsed);
            if let Ok(reloaded) = &outcome {
                if *reloaded > 0 {
                    stats.changes_applied += 1;
                    stats.zones_reloaded += reloaded;
                    stats.last_change = Some(Instant::now());
                }
            }
        }
        failures_in_a_row = if outcome.is_ok() {
            0
        } else {
            failures_in_a_row + 1
        };
        engine.shared.cycles.send_replace(Cycle {
            started: Some(started),
            outcome: outcome.map(|_| ()),
            failures_in_a_row,
        });
        let pause = interval
            .saturating_sub(elapsed)
            .max(Duration::from_millis(20));
        let command = tokio::select! {
            () = tokio::time::sleep(pause) => None,
            () = engine.shared.poke.notified() => None,
            Some(command) = commands.recv() => Some(command),
        };
        if let Some(command) = command {
            engine.handle(command).await;
        }
    }
}

/// Removes the world's directory if start-up fails half way.
#[derive(Debug)]
struct DirGuard(Option<PathBuf>);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A running local DNS internet. Dropping it kills its processes and removes its files.
#[derive(Debug)]
pub struct DnsWorld {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    commands: mpsc::UnboundedSender<Command>,
    dir: PathBuf,
    block: u8,
    resolvers: Vec<Resolver>,
    settle_timeout: Duration,
    registry: Registry,
    started_in: Duration,
    _reservation: block::Reservation,
}

impl DnsWorld {
    /// Starts every server and both resolvers, serving what moto holds now.
    pub async fn start(options: WorldOptions) -> Result<DnsWorld, WorldError> {
        let began = Instant::now();
        let suffixes = layout::suffix_set(&options.public_suffixes).map_err(WorldError::Config)?;
        let reservation = block::reserve(options.block)?;
        let x = reservation.block();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "zonehop-dnsworld-{}-{x}-{stamp:08x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| WorldError::io(format!("creating {}", dir.display()), &e))?;
        let mut guard = DirGuard(Some(dir.clone()));

        let (cycles, _) = watch::channel(Cycle {
            started: None,
            outcome: Ok(()),
            failures_in_a_row: 0,
        });
        let shared = Arc::new(Shared {
            procs: Mutex::new(BTreeMap::new()),
            failures: Mutex::new(Vec::new()),
            view: RwLock::new(View::default()),
            stats: Mutex::new(WorldStats::default()),
            cycles,
            poke: Notify::new(),
        });
        let source = Source::new(
            &options.aws,
            &options.accounts,
            options.registrar.as_ref(),
            options.registry.clone(),
        )
        .await;
        let book = AddressBook::new(x);
        let root = book.root();
        let unbound_addr = book.unbound();
        let kresd_addr = book.kresd();
        let mut engine = Engine {
            shared: Arc::clone(&shared),
            dir: dir.clone(),
            source,
            book,
            ttls: options.ttls,
            suffixes,
            running: BTreeMap::new(),
            last_layout: Layout::default(),
            frozen: BTreeMap::new(),
        };
        let first = engine.cycle().await;
        if let Err(error) = first {
            shared.kill_all();
            return Err(error);
        }
        let resolvers =
            match start_resolvers(&dir, root, unbound_addr, kresd_addr, &options.ttls, &shared)
                .await
            {
                Ok(resolvers) => resolvers,
                Err(error) => {
                    shared.kill_all();
                    return Err(error);
                }
            };
        let (commands, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(engine, options.poll_interval, received));
        guard.0 = None;
        Ok(DnsWorld {
            shared,
            task: Some(task),
            commands,
            dir,
            block: x,
            resolvers,
            settle_timeout: options.settle_timeout,
            registry: options.registry,
            started_in: began.elapsed(),
            _reservation: reservation,
        })
    }

    /// Returns once everything moto held when it was called is served, or the first
    /// failure: a daemon that died (with its last output), a zone knotd refused, moto
    /// failing three polls in a row, or the settle timeout.
    pub async fn settle(&self) -> Result<(), WorldError> {
        let asked = Instant::now();
        let deadline = tokio::time::Instant::from_std(asked + self.settle_timeout);
        let mut cycles = self.shared.cycles.subscribe();
        self.shared.poke.notify_one();
        let mut last_error = String::from("none");
        loop {
            self.shared.check_processes();
            if let Some(failure) = self.shared.first_failure() {
                return Err(failure);
            }
            if self.task.as_ref().is_none_or(JoinHandle::is_finished) {
                return Err(WorldError::Stopped);
            }
            {
                let cycle = cycles.borrow_and_update().clone();
                if cycle.started.is_some_and(|s| s >= asked) {
                    match cycle.outcome {
                        Ok(()) => return Ok(()),
                        Err(error) if !error.is_transient() || cycle.failures_in_a_row >= 3 => {
                            return Err(error)
                        }
                        Err(error) => last_error = error.to_string(),
                    }
                }
            }
            match tokio::time::timeout_at(deadline, cycles.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(WorldError::Stopped),
                Err(_) => {
                    return Err(WorldError::NotSettled {
                        waited: asked.elapsed(),
                        last_error,
                    })
                }
            }
        }
    }

    /// Freezes one name server (`ns3.z2.zonehop-dns.test`, with or without the trailing
    /// dot): from its return, that name server's address answers from a copy of what it
    /// served at the call (the last poll applied: call [`DnsWorld::settle`] first to
    /// include a change just made), while the other addresses of its set keep following
    /// moto. The copy is served by a knotd of its own (role `frozen-ns3.z2` in
    /// [`DnsWorld::processes`]; its death is reported by `settle` like any other) that the
    /// poller never updates. Lasts until [`DnsWorld::unfreeze_server`] or the world's drop.
    ///
    /// knotd applies `listen` changes only on restart, so the live server of the set is
    /// restarted without the address: its other addresses do not answer for some tens of
    /// milliseconds, and the frozen address not from the live server's stop until the
    /// frozen copy has loaded. Any server of the world can be frozen (a TLD server too).
    /// Errors: an unknown name, a name already frozen, a knotd that does not start.
    pub async fn freeze_server(&self, ns_name: &str) -> Result<(), WorldError> {
        self.command(|reply| Command::Freeze {
            ns_name: ns_name.to_owned(),
            reply,
        })
        .await
    }

    /// Ends [`DnsWorld::freeze_server`]: the frozen copy stops and the live server of the
    /// set is restarted with the address back (so it serves what moto holds as of the
    /// last poll). Errors if `ns_name` is not frozen.
    pub async fn unfreeze_server(&self, ns_name: &str) -> Result<(), WorldError> {
        self.command(|reply| Command::Unfreeze {
            ns_name: ns_name.to_owned(),
            reply,
        })
        .await
    }

    /// [`DnsWorld::freeze_server`], then the frozen copy's zone files rewritten by `edit`
    /// (each file's whole text in, the new text out) and reloaded: from its return that name
    /// server answers what `edit` made of its zones (a fault: a server answering wrongly).
    /// Ends like a freeze, with [`DnsWorld::unfreeze_server`].
    pub async fn tamper_server(
        &self,
        ns_name: &str,
        edit: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Result<(), WorldError> {
        self.command(|reply| Command::Tamper {
            ns_name: ns_name.to_owned(),
            edit: Box::new(edit),
            reply,
        })
        .await
    }

    /// Has the background task carry out a command between two polls.
    async fn command(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<(), WorldError>>) -> Command,
    ) -> Result<(), WorldError> {
        if self.task.as_ref().is_none_or(JoinHandle::is_finished) {
            return Err(WorldError::Stopped);
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| WorldError::Stopped)?;
        answer.await.unwrap_or(Err(WorldError::Stopped))
    }

    /// The fake root server.
    pub fn root_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, self.block, 0, 1)), 53)
    }

    /// unbound and kresd, both recursing from the fake root.
    pub fn resolvers(&self) -> Vec<Resolver> {
        self.resolvers.clone()
    }

    /// The address of a name server of the world (`ns1.z1.zonehop-dns.test`, with or
    /// without the trailing dot; also the root, TLD and infra servers' names).
    pub fn addr_of(&self, ns_name: &str) -> Option<IpAddr> {
        let name = Name::parse(ns_name).ok()?;
        let view = self.shared.view.read().ok()?;
        view.names.get(&name).map(|a| IpAddr::V4(*a))
    }

    /// The four addresses (port 53) serving a hosted zone; empty if it is not served.
    pub fn zone_servers(&self, zone_id: &str) -> Vec<SocketAddr> {
        let id = zonehop::core::zone::bare_zone_id(zone_id);
        self.shared
            .view
            .read()
            .ok()
            .and_then(|v| v.zone_servers.get(id).cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|a| SocketAddr::new(IpAddr::V4(a), 53))
            .collect()
    }

    /// The world's own registry (registrations outside Route 53 Domains): set a domain's
    /// name servers there as an operator would at their registrar; served within a poll
    /// ([`DnsWorld::settle`] waits for it).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The public-suffix server (`com.`, `co.kr.`) that holds a domain's delegation, if the
    /// world delegates it there.
    pub fn delegation_server(&self, domain: &str) -> Option<SocketAddr> {
        let name = Name::parse(domain).ok()?;
        let view = self.shared.view.read().ok()?;
        view.delegated_at
            .get(&name)
            .map(|a| SocketAddr::new(IpAddr::V4(*a), 53))
    }

    /// What could not be served as moto holds it (records left out, zones skipped), as of
    /// the last poll.
    pub fn warnings(&self) -> Vec<String> {
        self.shared
            .view
            .read()
            .map(|v| v.warnings.clone())
            .unwrap_or_default()
    }

    pub fn stats(&self) -> WorldStats {
        self.shared
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// How long [`DnsWorld::start`] took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The world's block, 127.X.0.0.
    pub fn block(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, self.block, 0, 0)
    }

    /// Every running daemon of the world: (role, process id). Roles: `root`, `infra`,
    /// `tld-com`, `tld-co.kr` (registry servers), `hosted-ns1.z1` (a hosted-zone name-server
    /// set), `unbound`, `kresd`,
    /// `frozen-ns3.z1` (a frozen name server, see [`DnsWorld::freeze_server`]).
    pub fn processes(&self) -> Vec<(String, u32)> {
        self.shared
            .procs
            .lock()
            .map(|procs| {
                procs
                    .values()
                    .filter_map(|d| Some((d.role().to_owned(), d.id()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The directory holding every configuration and zone file (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for DnsWorld {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.shared.kill_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts unbound and kresd on the fake root and waits until both resolve through it.
async fn start_resolvers(
    dir: &Path,
    root: Ipv4Addr,
    unbound_addr: Ipv4Addr,
    kresd_addr: Ipv4Addr,
    ttls: &Ttls,
    shared: &Shared,
) -> Result<Vec<Resolver>, WorldError> {
    let root_ns = render::zone_file_name(&layout::root_server());
    let io =
        |path: &Path, e: std::io::Error| WorldError::io(format!("writing {}", path.display()), &e);

    let unbound_dir = dir.join("unbound");
    std::fs::create_dir_all(&unbound_dir).map_err(|e| io(&unbound_dir, e))?;
    let hints = unbound_dir.join("root.hints");
    std::fs::write(&hints, config::root_hints(&root_ns, root)).map_err(|e| io(&hints, e))?;
    let unbound_conf = unbound_dir.join("unbound.conf");
    std::fs::write(
        &unbound_conf,
        config::unbound_conf(&unbound_dir, unbound_addr, ttls),
    )
    .map_err(|e| io(&unbound_conf, e))?;
    let mut unbound = Daemon::spawn(
        "unbound",
        "unbound",
        [
            std::ffi::OsStr::new("-d"),
            std::ffi::OsStr::new("-c"),
            unbound_conf.as_os_str(),
        ],
        &unbound_dir,
    )?;

    let kresd_dir = dir.join("kresd");
    let modules = kresd_dir.join("kres_modules");
    std::fs::create_dir_all(&modules).map_err(|e| io(&modules, e))?;
    std::fs::create_dir_all(kresd_dir.join("run")).map_err(|e| io(&kresd_dir, e))?;
    let lua = modules.join("loopback_only.lua");
    std::fs::write(&lua, config::LOOPBACK_ONLY_LUA).map_err(|e| io(&lua, e))?;
    let kresd_conf = kresd_dir.join("kresd.conf");
    std::fs::write(
        &kresd_conf,
        config::kresd_conf(&kresd_dir, kresd_addr, &root_ns, root, ttls),
    )
    .map_err(|e| io(&kresd_conf, e))?;
    let run_dir = kresd_dir.join("run");
    let mut kresd = Daemon::spawn(
        "kresd",
        "kresd",
        [
            std::ffi::OsStr::new("-n"),
            std::ffi::OsStr::new("-c"),
            kresd_conf.as_os_str(),
            run_dir.as_os_str(),
        ],
        &run_dir,
    )?;

    let unbound_sock = SocketAddr::new(IpAddr::V4(unbound_addr), 53);
    let kresd_sock = SocketAddr::new(IpAddr::V4(kresd_addr), 53);
    unbound.wait_resolving(unbound_sock, &root_ns).await?;
    kresd.wait_resolving(kresd_sock, &root_ns).await?;
    if let Ok(mut procs) = shared.procs.lock() {
        procs.insert("unbound".to_owned(), unbound);
        procs.insert("kresd".to_owned(), kresd);
    }
    Ok(vec![
        Resolver {
            name: "unbound",
            addr: unbound_sock,
        },
        Resolver {
            name: "kresd",
            addr: kresd_sock,
        },
    ])
}
