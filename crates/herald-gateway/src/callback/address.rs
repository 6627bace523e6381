//! Where a callback may go: the address policy (which IP addresses are internal) and the
//! resolver the worker asks once per callback.
//!
//! A callback URL names a host; before connecting, the worker resolves it once
//! ([`Resolve`]), refuses the callback if **any** resolved address is internal
//! ([`internal_class`]) unless `allow_private_callback_hosts` is on, and then connects to exactly
//! the addresses it checked (never resolving the name again, so a DNS answer that changes
//! between check and connect, "DNS rebinding", cannot move the callback inside). TLS still
//! verifies the receiver against the URL's host name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use herald_runtime::internal::BoxFuture;

/// Resolves a callback host name to socket addresses. Production uses [`SystemResolver`];
/// tests inject their own.
pub trait Resolve: Send + Sync {
    /// The addresses of `host` (a DNS name, never an IP literal) at `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>>;
}

/// The operating system's resolver, through tokio's `lookup_host`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Why an address is internal: what a callback must not reach unless private callback hosts
/// are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), unique local fc00::/7, site-local fec0::/10,
    /// local-use NAT64 64:ff9b:1::/48.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8 ("this network"), ::.
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// 192.0.0.0/24 (IETF protocol assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4
    /// (reserved, with the broadcast address), 100::/64 (discard).
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::SharedCgnat => "shared (CGNAT)",
            Self::Reserved => "reserved",
        })
    }
}

/// The class of an internal address, `None` for a public one. IPv6 addresses that carry an
/// IPv4 address (IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`,
/// 6to4 `2002::/16`) are judged by that IPv4 address.
pub fn internal_class(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(a: Ipv4Addr) -> Option<AddressClass> {
    let [b0, b1, b2, _] = a.octets();
    Some(match (b0, b1, b2) {
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedCgnat,
        (169, 254, _) => AddressClass::LinkLocal,
        (192, 0, 0) | (198, 18..=19, _) | (240..=255, _, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        _ => return None,
    })
}

fn v6_class(a: Ipv6Addr) -> Option<AddressClass> {
    let s = a.segments();
    let embedded = |hi: u16, lo: u16| {
        let [h0, h1] = hi.to_be_bytes();
        let [l0, l1] = lo.to_be_bytes();
        Ipv4Addr::new(h0, h1, l0, l1)
    };
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => Some(AddressClass::Unspecified),
        [0, 0, 0, 0, 0, 0, 0, 1] => Some(AddressClass::Loopback),
        // IPv4-mapped and IPv4-compatible; NAT64's well-known prefix (RFC 6052); 6to4
        // (RFC 3056), whose IPv4 address sits in bits 16..48.
        [0, 0, 0, 0, 0, 0xffff | 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo]
        | [0x2002, hi, lo, ..] => v4_class(embedded(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Some(AddressClass::Private),
        [0x100, 0, 0, 0, ..] => Some(AddressClass::Reserved),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some(AddressClass::Private),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some(AddressClass::LinkLocal),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some(AddressClass::Private),
        [first, ..] if first & 0xff00 == 0xff00 => Some(AddressClass::Multicast),
        _ => None,
    }
}

/// Whether `host` (a DNS name as the URL parser leaves it: lower case) is `localhost` or a name
/// under `.localhost`, which resolvers answer with loopback addresses (RFC 6761 §6.3). A final
/// dot is ignored.
pub fn is_localhost_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<AddressClass> {
        internal_class(text.parse().unwrap())
    }

    #[test]
    fn internal_addresses_and_their_class() {
        use AddressClass::*;
        for (ip, expected) in [
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("10.0.0.1", Some(Private)),
            ("100.63.255.255", None),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("169.254.169.254", Some(LinkLocal)),
            ("172.15.255.255", None),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.2.1", None),
            ("192.168.1.1", Some(Private)),
            ("198.18.0.1", Some(Reserved)),
            ("198.19.255.255", Some(Reserved)),
            ("198.20.0.1", None),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.255", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.255", Some(Reserved)),
            ("8.8.8.8", None),
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.1.1", Some(LinkLocal)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Loopback)),
            ("::10.1.2.3", Some(Private)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some(Private)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:c0a8:101::1", Some(Private)),
            ("2002:808:808::1", None),
            ("100::1", Some(Reserved)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", None),
            ("2a00:1450:4001::1", None),
        ] {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn localhost_names() {
        for (host, loopback) in [
            ("localhost", true),
            ("localhost.", true),
            ("LOCALHOST", true),
            ("api.localhost", true),
            ("a.b.localhost.", true),
            ("localhost.example", false),
            ("notlocalhost", false),
            ("mylocalhost.de", false),
            ("nb.example", false),
        ] {
            assert_eq!(is_localhost_name(host), loopback, "{host}");
        }
    }
}
