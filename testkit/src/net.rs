//! Hosts for tests in network namespaces, made by the test and torn down after it (also when it
//! fails), with 198.18.0.0/15 addresses (reserved for benchmarking, never routed to the
//! outside), so nothing a test sends (mDNS, WebRTC's multicast DNS) reaches the machine's real
//! interfaces. Needs root (CAP_NET_ADMIN) and `ip` from iproute2, which `cargo xtask ci`
//! installs.

use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;

/// Whether this process runs as root, which namespaces need.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `ip ARGS`, failing with the command when it fails.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("ip")
        .args(args)
        .status()
        .context("cannot run `ip`: install iproute2 (cargo xtask ci does)")?;
    anyhow::ensure!(status.success(), "ip {} failed", args.join(" "));
    Ok(())
}

/// A short name unique to this process and call, for namespaces and links (a link's name has
/// at most 15 bytes).
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 1000;
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// A network namespace: one host. Deleted when dropped, with the links inside it.
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// An empty namespace with its loopback up; `hint` (a few letters) goes into its name.
    pub fn create(hint: &str) -> anyhow::Result<Self> {
        let namespace = Self {
            name: unique(&format!("sb{hint}")),
        };
        ip(&["netns", "add", &namespace.name])?;
        // From here on a failure still removes the namespace (drop).
        namespace.ip(&["link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// An isolated host: a veth pair with both ends inside, `addr` (with its prefix length) on
    /// one, a default route through `gateway`, an address nobody has, and a route for
    /// multicast. Chromium gathers ICE candidates only with a default route, and mDNS sends
    /// fail without a multicast route.
    pub fn isolated(hint: &str, addr: &str, gateway: &str) -> anyhow::Result<Self> {
        let namespace = Self::create(hint)?;
        namespace.ip(&[
            "link", "add", "lan0", "type", "veth", "peer", "name", "lan1",
        ])?;
        namespace.ip(&["addr", "add", addr, "dev", "lan0"])?;
        namespace.ip(&["link", "set", "lan0", "up"])?;
        namespace.ip(&["link", "set", "lan1", "up"])?;
        namespace.ip(&["route", "add", "default", "via", gateway])?;
        namespace.ip(&["route", "add", "224.0.0.0/4", "dev", "lan0"])?;
        Ok(namespace)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// The command prefix that runs a program in this namespace.
    pub fn prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.name]
            .map(String::from)
            .to_vec()
    }

    /// `program` to run in this namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Runs `program ARGS` in this namespace and waits for it, failing when it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let status = self
            .command(program)
            .args(args)
            .status()
            .with_context(|| format!("cannot run {program}"))?;
        anyhow::ensure!(
            status.success(),
            "{program} {} in {} failed",
            args.join(" "),
            self.name
        );
        Ok(())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A bridge in the root namespace: one network segment. Deleted when dropped.
#[derive(Debug)]
pub struct Bridge {
    name: String,
}

impl Bridge {
    /// A new bridge, up.
    pub fn create() -> anyhow::Result<Self> {
        let bridge = Self {
            name: unique("sbbr"),
        };
        ip(&["link", "add", &bridge.name, "type", "bridge"])?;
        ip(&["link", "set", &bridge.name, "up"])?;
        Ok(bridge)
    }

    /// Plugs `host` in through a veth pair: `iface` inside it with `addr` (and its prefix
    /// length), the other end on the bridge.
    pub fn attach(&self, host: &Namespace, iface: &str, addr: &str) -> anyhow::Result<()> {
        let outside = unique("sbv");
        // The inside end is made in the namespace, where `iface` is free (the machine's own
        // interfaces may have that name).
        ip(&[
            "link",
            "add",
            &outside,
            "type",
            "veth",
            "peer",
            "name",
            iface,
            "netns",
            host.name(),
        ])?;
        ip(&["link", "set", &outside, "master", &self.name])?;
        ip(&["link", "set", &outside, "up"])?;
        host.ip(&["addr", "add", addr, "dev", iface])?;
        host.ip(&["link", "set", iface, "up"])
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .status();
    }
}

/// Two hosts on one LAN, 198.18.0.1 and 198.18.0.2 (/24), with a multicast route each.
pub struct Lan {
    // Dropped before the bridge: namespaces take their veth ends with them.
    hosts: [Namespace; 2],
    _bridge: Bridge,
}

impl Lan {
    /// Makes the hosts and the segment; panics with the failing command, as a test wants.
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("cannot make the test LAN: {e:#}"))
    }

    /// Makes it, or says which command failed.
    pub fn try_new() -> anyhow::Result<Self> {
        let bridge = Bridge::create()?;
        let hosts = [Namespace::create("a")?, Namespace::create("b")?];
        for (i, host) in hosts.iter().enumerate() {
            bridge.attach(host, "eth0", &format!("198.18.0.{}/24", i + 1))?;
            // Multicast needs a route, or sends fail with ENETUNREACH.
            host.ip(&["route", "add", "224.0.0.0/4", "dev", "eth0"])?;
        }
        Ok(Self {
            hosts,
            _bridge: bridge,
        })
    }

    /// Host `i` (198.18.0.`i + 1`).
    pub fn host(&self, i: usize) -> &Namespace {
        &self.hosts[i]
    }

    /// The command prefix that runs a program on host `i`, logging `log` (a `RUST_LOG`
    /// directive) and the node's info to the test's stderr, for when a test fails.
    pub fn exec(&self, i: usize, log: &str) -> Vec<String> {
        let mut prefix = self.hosts[i].prefix();
        prefix.extend([
            "env".to_owned(),
            format!("RUST_LOG={log},switchboard_node=info"),
        ]);
        prefix
    }
}

impl Default for Lan {
    fn default() -> Self {
        Self::new()
    }
}

/// Two hosts, each behind its own NAT router, and a public host, for hole punching:
///
/// ```text
///   host 0 (198.19.1.2) ── router 0 ─┐                ┌─ router 1 ── host 1 (198.19.2.2)
///       LAN 198.19.1.0/24    198.18.1.2 ── public ── 198.18.1.3    LAN 198.19.2.0/24
///                                     198.18.1.0/24
///                                  public host 198.18.1.1
/// ```
///
/// Each router masquerades its LAN behind its public address (nftables, source ports kept
/// where free, as home routers do) and drops connections the outside starts, so a host can
/// only be reached through a mapping its own traffic made: hole punching's case. The public
/// host has no route to the LANs.
pub struct Nat {
    // Dropped first: the namespaces, then the bridges their links were on.
    hosts: [Namespace; 2],
    routers: [Namespace; 2],
    public: Namespace,
    _segments: [Bridge; 3],
}

impl Nat {
    /// The public host's address.
    pub const PUBLIC: &'static str = "198.18.1.1";

    /// Makes it; panics with the failing command, as a test wants. Needs `nft` (nftables).
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|e| panic!("cannot make the NAT topology: {e:#}"))
    }

    /// Makes it, or says which command failed.
    pub fn try_new() -> anyhow::Result<Self> {
        let segments = [Bridge::create()?, Bridge::create()?, Bridge::create()?];
        let public = Namespace::create("pub")?;
        segments[0].attach(&public, "eth0", &format!("{}/24", Self::PUBLIC))?;
        let routers = [Namespace::create("nat")?, Namespace::create("nat")?];
        let hosts = [Namespace::create("lan")?, Namespace::create("lan")?];
        for i in 0..2 {
            let (router, host, lan) = (&routers[i], &hosts[i], &segments[i + 1]);
            segments[0].attach(router, "eth0", &format!("198.18.1.{}/24", i + 2))?;
            lan.attach(router, "eth1", &format!("198.19.{}.1/24", i + 1))?;
            lan.attach(host, "eth0", &format!("198.19.{}.2/24", i + 1))?;
            host.ip(&[
                "route",
                "add",
                "default",
                "via",
                &format!("198.19.{}.1", i + 1),
            ])?;
            router.run("sh", &["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])?;
            let rules = "table ip nat {\n\
                 chain postrouting { type nat hook postrouting priority 100; oifname \"eth0\" masquerade; }\n\
                 }\n\
                 table inet filter {\n\
                 chain input { type filter hook input priority 0; iifname \"eth0\" ct state new drop; }\n\
                 chain forward { type filter hook forward priority 0; iifname \"eth0\" ct state new drop; }\n\
                 }\n";
            router.nft(rules)?;
        }
        Ok(Self {
            hosts,
            routers,
            public,
            _segments: segments,
        })
    }

    /// The private host `i` (198.19.`i + 1`.2), behind router `i` (public address
    /// 198.18.1.`i + 2`).
    pub fn host(&self, i: usize) -> &Namespace {
        &self.hosts[i]
    }

    /// Router `i`.
    pub fn router(&self, i: usize) -> &Namespace {
        &self.routers[i]
    }

    /// The public host (198.18.1.1).
    pub fn public(&self) -> &Namespace {
        &self.public
    }
}

impl Default for Nat {
    fn default() -> Self {
        Self::new()
    }
}

impl Namespace {
    /// Loads `rules` (an nftables ruleset) in this namespace.
    pub fn nft(&self, rules: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        let mut child = self
            .command("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .context("cannot run nft: install nftables (cargo xtask ci does)")?;
        child
            .stdin
            .take()
            .context("piped stdin")?
            .write_all(rules.as_bytes())?;
        let status = child.wait()?;
        anyhow::ensure!(status.success(), "nft refused the rules in {}", self.name);
        Ok(())
    }
}
