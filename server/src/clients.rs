//! Who is asking, for rate limits: the client's network address as an attacker
//! cannot cheaply vary it.
//!
//! - Behind a reverse proxy every request comes from the proxy. Only proxies the
//!   operator names (`DOTS_TRUSTED_PROXIES`, default none) are believed about the
//!   address they forward (`X-Forwarded-For`, or `Forwarded: for=`): the client is
//!   the last address in the chain that is not itself a trusted proxy. From anyone
//!   else those headers are ignored, so a client cannot pick its own address.
//! - IPv6 addresses are grouped by their /64: one subscriber usually holds a whole
//!   /64 and can rotate through it freely.

use std::net::IpAddr;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("{text} is not an IP address or block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or(format!("{text} has a bad prefix length"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix) == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { bits >> (width - prefix) }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what dual-stack sockets report) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// `DOTS_TRUSTED_PROXIES`: comma-separated addresses or blocks.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',').filter(|s| !s.trim().is_empty()).map(IpNet::parse).collect()
}

/// The rate-limit key of the client behind `peer`: its IPv4 address, or its IPv6 /64.
pub fn client_key(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> String {
    group(client_address(peer, headers, trusted))
}

/// The client's address: `peer`, unless `peer` is a trusted proxy, in which case
/// the forwarded chain is read from its end, skipping trusted proxies.
pub fn client_address(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else { return peer };
        for hop in value.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(canonical(ip)),
                // A hop we cannot read: believe nothing before it.
                Err(_) => chain.clear(),
            }
        }
    }
    if chain.is_empty() {
        for value in headers.get_all("forwarded") {
            let Ok(value) = value.to_str() else { return peer };
            for element in value.split(',') {
                let hop = element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for").then(|| forwarded_for(value))
                });
                match hop.flatten() {
                    Some(ip) => chain.push(canonical(ip)),
                    None => chain.clear(),
                }
            }
        }
    }
    chain.into_iter().rev().find(|ip| !is_trusted(*ip)).unwrap_or(peer)
}

/// `for=192.0.2.60`, `for="[2001:db8::1]:4711"`, `for="192.0.2.1:80"`.
fn forwarded_for(value: &str) -> Option<IpAddr> {
    let value = value.trim().trim_matches('"');
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    value.parse().ok().or_else(|| value.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok()))
}

/// IPv4 as is; IPv6 by its /64.
fn group(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted("10.0.0.0/8, ::1").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.2.3")]);
        assert_eq!(client_key(ip("10.0.0.1"), &xff, &trusted), "203.0.113.9");
        assert_eq!(client_key(ip("198.51.100.7"), &xff, &trusted), "198.51.100.7", "a client cannot name itself");
        assert_eq!(client_key(ip("10.0.0.1"), &xff, &[]), "10.0.0.1", "no proxy is trusted by default");
        // A client's own X-Forwarded-For comes before what the proxy appended: the last untrusted hop wins.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_key(ip("10.0.0.1"), &spoofed, &trusted), "203.0.113.9");
        let fwd = headers(&[("forwarded", "for=\"[2001:db8:aa:bb:1::9]:4711\";proto=https")]);
        assert_eq!(client_key(ip("::1"), &fwd, &trusted), "2001:db8:aa:bb::/64");
        assert_eq!(client_key(ip("::ffff:10.0.0.2"), &xff, &trusted), "203.0.113.9", "mapped proxies too");
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        let a = client_key("2001:db8:1:2:aaaa::1".parse().unwrap(), &HeaderMap::new(), &[]);
        let b = client_key("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap(), &HeaderMap::new(), &[]);
        let c = client_key("2001:db8:1:3::1".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(IpNet::parse("10.0.0.0/33").is_err() && IpNet::parse("nope").is_err());
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
    }
}
