//! Configuration files of the world's daemons, with the settings measured to work
//! (knotd 3.2.6, unbound 1.17.1, kresd 5.6.0; see docs/local-world.md).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use super::Ttls;

/// knotd.conf for one server. knotd's YAML parser refused a block-style list under
/// `listen:` (measured: "parser failed"); the flow list `[ a, b ]` works.
pub fn knot_conf(dir: &Path, addrs: &[Ipv4Addr], zones: &[(String, String)]) -> String {
    let listen = addrs
        .iter()
        .map(|a| format!("{a}@53"))
        .collect::<Vec<_>>()
        .join(", ");
    let dir = dir.display();
    let mut out = format!(
        r#"server:
    rundir: "{dir}/run"
    listen: [ {listen} ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

control:
    listen: "{dir}/knot.sock"

database:
    storage: "{dir}/storage"

log:
  - target: stderr
    any: info

template:
  - id: default
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none

"#
    );
    if !zones.is_empty() {
        out.push_str("zone:\n");
        for (domain, file) in zones {
            let domain = domain.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(out, "  - domain: \"{domain}\"\n    file: \"{file}\"\n");
        }
    }
    out
}

/// The root hints file both resolvers start from: the fake root only.
pub fn root_hints(root_ns: &str, root: Ipv4Addr) -> String {
    format!(". 3600000 IN NS {root_ns}\n{root_ns} 3600000 IN A {root}\n")
}

/// unbound.conf. The path given to `unbound -c` must be absolute: with a relative one
/// `unbound-control reload` fell back to the built-in configuration and its real root hints.
pub fn unbound_conf(dir: &Path, addr: Ipv4Addr, ttls: &Ttls) -> String {
    let dir = dir.display();
    let mut out = format!(
        r#"server:
    interface: {addr}
    port: 53
    interface-automatic: no
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    # The whole world is on loopback, which unbound refuses to query by default.
    do-not-query-localhost: no
    # unbound answers NXDOMAIN for the special-use TLD test. without this.
    local-zone: "test." nodefault
    # No DNSSEC: the world is unsigned.
    module-config: "iterator"
    root-hints: "{dir}/root.hints"
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    log-time-ascii: yes
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
"#
    );
    // Never a packet outside 127.0.0.0/8, whatever a zone delegates to.
    for block in [
        "0.0.0.0/2",
        "64.0.0.0/3",
        "96.0.0.0/4",
        "112.0.0.0/5",
        "120.0.0.0/6",
        "124.0.0.0/7",
        "126.0.0.0/8",
        "128.0.0.0/1",
        "::/0",
    ] {
        let _ = writeln!(out, "    do-not-query-address: {block}");
    }
    if let Some(max) = ttls.resolver_max {
        let _ = writeln!(out, "    cache-max-ttl: {max}");
    }
    if let Some(max) = ttls.resolver_max_negative {
        let _ = writeln!(out, "    cache-max-negative-ttl: {max}");
    }
    let _ = write!(
        out,
        r#"
remote-control:
    control-enable: yes
    control-interface: {addr}
    control-port: 8953
    control-use-cert: no
"#
    );
    out
}

/// A kresd layer that refuses every upstream query outside 127.0.0.0/8 (kresd has no
/// setting for it). Measured: a delegation to 192.0.2.53 is answered SERVFAIL at once
/// and logged, nothing is sent.
pub const LOOPBACK_ONLY_LUA: &str = r#"-- zonehop-tests dnsworld: refuse every upstream query outside 127.0.0.0/8.
local ffi = require('ffi')
local M = {}
M.layer = {
	checkout = function (state, req, pkt, dst, is_stream)
		if dst ~= nil then
			local family = ffi.C.kr_inaddr_family(dst)
			local raw = ffi.cast('const uint8_t *', ffi.C.kr_inaddr(dst))
			if family ~= 2 or raw[0] ~= 127 then
				local first = -1
				if family == 2 then first = raw[0] end
				log_warn(ffi.C.LOG_GRP_MODULE, 'loopback_only: refused a query to an address outside 127.0.0.0/8 (family %d, first octet %d)', family, first)
				return kres.FAIL
			end
		end
		return state
	end,
}
return M
"#;

/// kresd.conf. kresd finds a Lua module `m` as `kres_modules/m.lua` on `package.path`.
pub fn kresd_conf(
    dir: &Path,
    addr: Ipv4Addr,
    root_ns: &str,
    root: Ipv4Addr,
    ttls: &Ttls,
) -> String {
    let dir = dir.display();
    let mut out = format!(
        r#"-- zonehop-tests dnsworld
package.path = '{dir}/?.lua;' .. package.path
net.ipv6 = false
net.listen('{addr}', 53, {{ kind = 'dns' }})
modules.load('hints > iterate')
modules.load('loopback_only')
hints.root({{['{root_ns}'] = '{root}'}})
trust_anchors.remove('.')
policy.add(policy.all(policy.FLAGS({{'ALLOW_LOCAL'}})))
policy.add(policy.suffix(policy.PASS, {{todname('test.')}}))
cache.open(20 * MB, 'lmdb://{dir}/cache')
"#
    );
    if let Some(max) = ttls.resolver_max {
        let _ = writeln!(out, "cache.max_ttl({max})");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knot_listens_on_every_address_of_the_server_with_a_flow_list() {
        let conf = knot_conf(
            Path::new("/tmp/w/hosted"),
            &[Ipv4Addr::new(127, 5, 16, 1), Ipv4Addr::new(127, 5, 16, 2)],
            &[(".".to_owned(), "/tmp/w/hosted/zones/root.zone".to_owned())],
        );
        assert!(conf.contains("listen: [ 127.5.16.1@53, 127.5.16.2@53 ]"));
        assert!(conf.contains("  - domain: \".\"\n    file: \"/tmp/w/hosted/zones/root.zone\"\n"));
        assert!(conf.contains("journal-content: none"));
    }

    #[test]
    fn resolvers_never_leave_loopback() {
        let ttls = Ttls::default();
        let unbound = unbound_conf(
            Path::new("/tmp/w/unbound"),
            Ipv4Addr::new(127, 5, 0, 2),
            &ttls,
        );
        assert!(unbound.contains("do-not-query-address: 128.0.0.0/1"));
        assert!(unbound.contains("root-hints: \"/tmp/w/unbound/root.hints\""));
        assert!(!unbound.contains("forward-zone"));
        let kresd = kresd_conf(
            Path::new("/tmp/w/kresd"),
            Ipv4Addr::new(127, 5, 0, 3),
            "a.root.zonehop-dns.test.",
            Ipv4Addr::new(127, 5, 0, 1),
            &ttls,
        );
        assert!(kresd.contains("hints.root({['a.root.zonehop-dns.test.'] = '127.5.0.1'})"));
        assert!(kresd.contains("modules.load('loopback_only')"));
    }
}
