//! Where a webhook may be sent: `https://` to a public address. Loopback,
//! link-local, private, shared (CGNAT), multicast and unspecified addresses
//! are refused, so an endpoint cannot point Spotter at its own network
//! (server-side request forgery). Checked when an endpoint is saved, and
//! again on every send through a resolver that drops such addresses (a
//! name may resolve elsewhere by then). A dev/test setting allows both.

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether Spotter may send to `ip`: public unicast only.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one carries, where a gateway would reach it:
/// mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] if !ip.is_loopback() && !ip.is_unspecified() => {
            Some(from(hi, lo))
        }
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10
    let special = (a == 192 && b == 0 && c == 0) // 192.0.0.0/24, protocol assignments
        || (a == 198 && (18..20).contains(&b)) // 198.18.0.0/15, benchmarking
        || a >= 240; // 240.0.0.0/4, reserved
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || special
        || a == 0)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00; // fc00::/7
    let link_local = first & 0xffc0 == 0xfe80; // fe80::/10
    let site_local = first & 0xffc0 == 0xfec0; // fec0::/10, deprecated
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local)
}

/// Why an endpoint URL is refused (the 422's message for `url`).
pub fn refusal(raw: &str, allow_private: bool) -> Option<&'static str> {
    let Ok(url) = Url::parse(raw) else {
        return Some("is not an absolute URL");
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Some("must be https"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not carry credentials");
    }
    if url.fragment().is_some() {
        return Some("must not have a fragment");
    }
    let Some(host) = url.host() else {
        return Some("has no host");
    };
    if allow_private {
        return None;
    }
    let literal = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        }
        url::Host::Domain(_) => None,
    };
    match literal {
        Some(ip) if !is_public(ip) => Some("must not be a loopback, link-local or private address"),
        _ => None,
    }
}

/// Also refuses a name that resolves to a non-public address now. A name
/// that does not resolve is accepted (DNS may be down): every send checks
/// again.
pub async fn resolves_elsewhere(raw: &str) -> bool {
    let Ok(url) = Url::parse(raw) else {
        return false;
    };
    let (Some(url::Host::Domain(name)), Some(port)) = (url.host(), url.port_or_known_default())
    else {
        return false;
    };
    match tokio::net::lookup_host((name, port)).await {
        Ok(addresses) => addresses.into_iter().any(|a| !is_public(a.ip())),
        Err(_) => false,
    }
}

/// The HTTP client's resolver: only public addresses come back.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the name resolves to no public address".into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_endpoints_are_accepted() {
        assert_eq!(refusal("https://ehr.example.org/hooks", false), None);
        assert_eq!(
            refusal("https://203.0.113.9/x", false),
            Some("must not be a loopback, link-local or private address")
        );
        for private in [
            "https://127.0.0.1/x",
            "https://localhost:8443/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[64:ff9b::a00:1]/x",
            "https://[2002:c0a8:101::1]/x",
            "https://[::10.0.0.1]/x",
            "https://[fec0::1]/x",
            "https://198.18.0.1/x",
            "https://240.0.0.1/x",
        ] {
            assert!(refusal(private, false).is_some(), "{private}");
        }
        assert_eq!(
            refusal("http://ehr.example.org/x", false),
            Some("must be https")
        );
        assert_eq!(
            refusal("ftp://ehr.example.org/x", false),
            Some("must be https")
        );
        assert_eq!(
            refusal("https://user:pw@ehr.example.org/x", false),
            Some("must not carry credentials")
        );
        assert_eq!(refusal("not a url", false), Some("is not an absolute URL"));
        // The dev/test setting: plain http to this machine.
        assert_eq!(refusal("http://127.0.0.1:9000/x", true), None);
    }

    #[test]
    fn public_addresses_are_public() {
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(is_public("2606:4700::1111".parse().unwrap()));
        // NAT64 and 6to4 of a public address are public.
        assert!(is_public("64:ff9b::808:808".parse().unwrap()));
        assert!(is_public("2002:808:808::1".parse().unwrap()));
        assert!(!is_public("::ffff:127.0.0.1".parse().unwrap()));
    }
}
