//! Several hosts on one machine: a [`Network`] of network namespaces ("hosts") on a private
//! 10.213.X.0/24, each reachable from the others and from the root namespace, each able to
//! hide directories of the machine from its processes (a private mount namespace with an
//! empty read-only tmpfs over each). Dropping the network kills every process in its hosts
//! and deletes its namespaces and links, also when the test panics. Needs root, `ip`
//! (iproute2), `nsenter`, `unshare` and `mount` (util-linux); see [`Network::require`].
//!
//! Layout: the hosts' veths are ports of a bridge inside a hub namespace of the network's
//! own (its firewall is empty, so the root namespace's FORWARD policy, which Docker sets to
//! DROP, is neither met nor changed, and no sysctl is touched); one more veth joins the
//! root namespace at 10.213.X.1. Hosts have no default route: nothing leaves the subnet.

mod forward;
mod ip;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::error::Error;
use forward::Forward;
use ip::{NETNS_MARK, ip};

/// Directories a host's processes must not see: each is covered by an empty read-only
/// tmpfs in the host's private mount namespace. Created (empty) when missing, so that what
/// is written there later stays hidden too.
#[derive(Debug, Clone, Default)]
pub struct Hidden(Vec<PathBuf>);

impl Hidden {
    /// Hides nothing: the host shares the machine's filesystem.
    pub fn none() -> Self {
        Self::default()
    }

    /// Hides each of `paths` (absolute directories).
    pub fn paths<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> Self {
        Self(paths.into_iter().map(Into::into).collect())
    }
}

/// One host of a [`Network`]: a network namespace with its address. Cheap to clone; valid
/// while its network lives.
#[derive(Debug, Clone)]
pub struct Host {
    name: String,
    netns: String,
    addr: Ipv4Addr,
    hidden: Vec<PathBuf>,
}

/// Mounts an empty read-only tmpfs over each argument up to `--`, then runs the rest.
const HIDE_THEN_EXEC: &str = r#"while [ "$1" != -- ]; do mount -t tmpfs -o ro,nosuid,nodev,size=4k,mode=0555 aide-hidden "$1" || exit 125; shift; done; shift; exec "$@""#;

impl Host {
    /// The name the test gave it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its network namespace, as `ip netns` names it.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Its address on the network, reachable from every host and the root namespace.
    pub fn addr(&self) -> IpAddr {
        IpAddr::V4(self.addr)
    }

    /// `addr():port`.
    pub fn socket_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.addr(), port)
    }

    /// The directories hidden from its processes.
    pub fn hidden(&self) -> &[PathBuf] {
        &self.hidden
    }

    /// A command that runs `program` inside this host (add arguments, environment, working
    /// directory and stdio as usual, then spawn it, e.g. with [`crate::ChildGuard`]). The
    /// spawned pid is `program`'s own (`nsenter`, `unshare` and `sh` each exec the next),
    /// so killing the child kills the program; `Drop` of the network kills it and anything
    /// it started, too. When the host hides paths and a mount fails, it exits 125. Do not
    /// set a working directory inside a hidden path: the hiding mounts come after the
    /// `chdir`, so the process would still see the real directory through its cwd.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--net=/run/netns/{}", self.netns));
        if !self.hidden.is_empty() {
            command
                .args(["unshare", "--mount", "--propagation", "private"])
                .args(["sh", "-c", HIDE_THEN_EXEC, "aide-hidden"])
                .args(&self.hidden)
                .arg("--");
        }
        command.arg(program);
        command
    }

    /// Waits, from the root namespace, until this host accepts TCP connections on `port`;
    /// false when `within` passes first.
    pub fn wait_for_port(&self, port: u16, within: Duration) -> bool {
        crate::net::wait_for_port(self.socket_addr(port), within)
    }
}

/// A private network of hosts, removed with everything running in it on drop.
#[derive(Debug)]
pub struct Network {
    prefix: String,
    subnet: u8,
    hub: String,
    root_link: String,
    hosts: Vec<Host>,
    forwards: Vec<Forward>,
}

impl Network {
    /// [`Network::new`] under the rule for what a test needs: without root, `ip`, `nsenter`,
    /// `unshare` or `mount` it fails when `CI` is set and otherwise skips loudly (`None`).
    /// Panics when the tools are there but the network cannot be made.
    pub fn require(prefix: &str) -> Option<Network> {
        if let Err(why) = available() {
            return crate::unavailable("network namespaces", why);
        }
        Some(Network::new(prefix).unwrap_or_else(|e| panic!("network {prefix}: {e}")))
    }

    /// A new network whose namespace names carry `prefix` (1 to 20 of `[a-z0-9]`, the
    /// test's label), on the first free 10.213.X.0/24. Removes first what test processes
    /// that died without unwinding left behind.
    pub fn new(prefix: &str) -> Result<Network, Error> {
        check_name(prefix, 20)?;
        ip::sweep_stale()?;
        let pid = std::process::id();
        for step in 0..=255u32 {
            let subnet = ((pid + step) % 256) as u8;
            if ip::subnet_in_use(Ipv4Addr::new(10, 213, subnet, 0))? {
                continue;
            }
            let hub = format!("{NETNS_MARK}{subnet}-{pid}-{prefix}");
            // Taken: another network of this process is trying the same subnet.
            if ip::exists_already(ip(&["netns", "add", &hub]))? {
                continue;
            }
            let root_link = format!("aidet{subnet}");
            // The root end's name is the claim on the subnet: creating it is atomic.
            let claim = [
                "link", "add", &root_link, "type", "veth", "peer", "name", "root",
            ];
            let claimed = ip(&[&claim[..], &["netns", &hub]].concat());
            if claimed.is_err() {
                ip::remove_netns(&hub);
            }
            if ip::exists_already(claimed)? {
                continue;
            }
            let network = Network {
                prefix: prefix.to_owned(),
                subnet,
                hub,
                root_link,
                hosts: Vec::new(),
                forwards: Vec::new(),
            };
            network.wire_hub()?;
            return Ok(network);
        }
        Err(Error::NoFreeSubnet)
    }

    /// The address of the root namespace on this network (10.213.X.1): hosts reach a
    /// service of the test process there when it listens on it or on 0.0.0.0.
    pub fn root_addr(&self) -> IpAddr {
        IpAddr::V4(self.addr(1))
    }

    /// The network's subnet, `10.213.X.0/24`.
    pub fn subnet(&self) -> String {
        format!("10.213.{}.0/24", self.subnet)
    }

    /// The hosts made so far.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Every network namespace of this network (its hub's and its hosts').
    pub fn netns_names(&self) -> Vec<String> {
        let mut names = vec![self.hub.clone()];
        names.extend(self.hosts.iter().map(|h| h.netns.clone()));
        names
    }

    /// The root namespace's end of the network, an interface named `aidet<X>`.
    pub fn root_link(&self) -> &str {
        &self.root_link
    }

    /// A new host `name` (1 to 12 of `[a-z0-9]`, unique in the network) at the next
    /// address, hiding `hidden` from its processes.
    pub fn host(&mut self, name: &str, hidden: Hidden) -> Result<Host, Error> {
        check_name(name, 12)?;
        if self.hosts.iter().any(|h| h.name == name) {
            let why = "a host of this network has it already";
            return Err(Error::BadName {
                name: name.into(),
                why,
            });
        }
        let index = self.hosts.len();
        if index > 250 {
            let why = "a network holds at most 251 hosts";
            return Err(Error::BadName {
                name: name.into(),
                why,
            });
        }
        let hidden = prepare_hidden(hidden)?;
        let host = Host {
            name: name.to_owned(),
            netns: format!("{}-{name}", self.hub),
            addr: self.addr(2 + index as u8),
            hidden,
        };
        ip(&["netns", "add", &host.netns])?;
        self.hosts.push(host.clone());
        self.wire_host(&host, index)?;
        Ok(host)
    }

    /// Inside `host`, `127.0.0.1:port` forwards to `target` as the root namespace sees
    /// it: the way to give a host the Postgres or Redis of the test environment, which
    /// listen on the root namespace's loopback only. Stops with the network.
    pub fn forward(&mut self, host: &Host, port: u16, target: SocketAddr) -> Result<(), Error> {
        let forward = Forward::start(&host.netns, port, target)?;
        self.forwards.push(forward);
        Ok(())
    }

    fn addr(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, last)
    }

    fn wire_hub(&self) -> Result<(), Error> {
        let (hub, root) = (self.hub.as_str(), self.root_link.as_str());
        ip(&["-n", hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", hub, "link", "set", "root", "master", "br0", "up"])?;
        ip(&["-n", hub, "link", "set", "br0", "up"])?;
        ip(&["-n", hub, "link", "set", "lo", "up"])?;
        ip(&["addr", "add", &format!("{}/24", self.addr(1)), "dev", root])?;
        ip(&["link", "set", root, "up"])?;
        Ok(())
    }

    fn wire_host(&self, host: &Host, index: usize) -> Result<(), Error> {
        let (hub, netns) = (self.hub.as_str(), host.netns.as_str());
        let port = format!("h{index}");
        let cidr = format!("{}/24", host.addr);
        ip(&[
            "-n", hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", netns,
        ])?;
        ip(&["-n", hub, "link", "set", &port, "master", "br0", "up"])?;
        ip(&["-n", netns, "addr", "add", &cidr, "dev", "eth0"])?;
        ip(&["-n", netns, "link", "set", "eth0", "up"])?;
        ip(&["-n", netns, "link", "set", "lo", "up"])?;
        Ok(())
    }
}

impl Drop for Network {
    /// Stops the forwards, kills every process in the hosts, deletes the root end of the
    /// network (so `ip link` no longer shows it when this returns) and the namespaces.
    fn drop(&mut self) {
        for forward in &mut self.forwards {
            forward.stop();
        }
        for host in &self.hosts {
            ip::remove_netns(&host.netns);
        }
        if let Err(e) = ip(&["link", "del", &self.root_link]) {
            eprintln!("aide-testkit hosts: network {}: {e}", self.prefix);
        }
        ip::remove_netns(&self.hub);
    }
}

/// Why hosts cannot be made here (not root, or a tool missing), if so.
pub fn available() -> Result<(), String> {
    if !crate::is_root() {
        return Err("network namespaces need root".into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["ip", "nsenter", "unshare", "mount", "sh"] {
        if !std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()) {
            return Err(format!("`{tool}` is not on PATH"));
        }
    }
    Ok(())
}

fn check_name(name: &str, max: usize) -> Result<(), Error> {
    let why = if name.is_empty() || name.len() > max {
        "too short or too long"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        "only a-z and 0-9"
    } else {
        return Ok(());
    };
    Err(Error::BadName {
        name: name.into(),
        why,
    })
}

/// The hidden paths, absolute, each an existing directory (made when missing).
fn prepare_hidden(hidden: Hidden) -> Result<Vec<PathBuf>, Error> {
    hidden
        .0
        .into_iter()
        .map(|path| {
            if !path.is_absolute() {
                return Err(Error::RelativeHiddenPath(path));
            }
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            std::fs::create_dir_all(&path).map_err(io)?;
            Ok(path)
        })
        .collect()
}
