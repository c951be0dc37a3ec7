//! Outbound HTTP(S): one client for webhooks and the SMS provider, with TLS
//! (rustls, Mozilla roots) and a guard that refuses loopback, private, link-local
//! and other internal addresses at connect time — after DNS, so a name that
//! resolves inside the network is refused too — unless the operator allows them.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

/// A client whose connections may only reach public addresses, unless `allow_private`.
pub fn client(allow_private: bool) -> HttpClient {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver { allow_private });
    http.enforce_http(false);
    http.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("ring supports the default protocol versions")
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

/// True for addresses no webhook should reach: loopback, private, link-local
/// (cloud metadata lives there), carrier-grade NAT, unspecified, multicast,
/// broadcast, documentation and unique-local ranges, and IPv4 inside IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..=127).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() || v6.is_unspecified() {
                return true;
            }
            // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d).
            if let Some(v4) = v6.to_ipv4() {
                return is_internal(IpAddr::V4(v4));
            }
            let [first, second, ..] = v6.segments();
            v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2002 // 6to4: an IPv4 address inside, relays deprecated
                || (first == 0x2001 && second == 0x0000) // Teredo: an IPv4 address inside
                || (first == 0x2001 && second == 0x0db8) // documentation
                || (first == 0x0064 && second == 0xff9b) // NAT64: an IPv4 address inside
        }
    }
}

/// Checks a URL's scheme and, when its host is an IP literal (which skips DNS),
/// that address. Names are checked when they are resolved.
pub fn check_url(url: &str, allow_private: bool) -> Result<http::Uri, String> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL".to_string())?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        _ => return Err("the URL must be http or https".into()),
    }
    let host = uri.host().ok_or("the URL has no host")?;
    if url.len() > 2000 || url.contains(char::is_whitespace) {
        return Err("the URL is too long or has spaces".into());
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if !allow_private {
        if let Ok(ip) = literal.parse::<IpAddr>()
            && is_internal(ip)
        {
            return Err("the URL points to a private or loopback address".into());
        }
        if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
            return Err("the URL points to a private or loopback address".into());
        }
    }
    Ok(uri)
}

/// Resolves names with the system resolver and drops internal addresses (all of
/// them, unless private addresses are allowed); no address left is an error.
#[derive(Clone)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                resolved.into_iter().filter(|a| allow_private || !is_internal(a.ip())).collect();
            if allowed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{} resolves only to private or loopback addresses", name.as_str()),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "fec0::1",
            "2001:0:4136:e378::1",
            "192.0.0.8",
            "192.0.0.170",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1", "192.0.1.1", "2001:4860::8888"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_to_internal_hosts_are_refused() {
        for bad in [
            "http://127.0.0.1/x",
            "http://[::1]:8080/",
            "http://localhost/",
            "https://10.0.0.5/",
            "http://169.254.169.254/latest",
            "ftp://example.com/",
            "example.com",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("https://hooks.example.com/dots", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok(), "allowed when the operator says so");
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_refused_at_connect_time() {
        use tower_service::Service;
        let refused = GuardedResolver { allow_private: false }.call("localhost".parse().unwrap()).await;
        assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::PermissionDenied);
        let allowed = GuardedResolver { allow_private: true }.call("localhost".parse().unwrap()).await;
        assert!(allowed.unwrap().any(|a| a.ip().is_loopback()));
    }
}
