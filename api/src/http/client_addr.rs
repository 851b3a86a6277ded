//! The client's address, worked out once per request: the peer, or behind a trusted proxy the
//! rightmost `X-Forwarded-For` entry that is not itself a trusted proxy. Rate limits, the
//! request log line and the `/metrics` allow-list all read it from here.
use std::{
    fmt,
    future::{Ready, ready},
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use ipnet::IpNet;

use crate::state::AppState;

/// A set of addresses and CIDR blocks (`LINLI_TRUSTED_PROXIES`, `LINLI_METRICS_ALLOW`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<IpNet>);

impl Networks {
    /// Comma-separated addresses or CIDRs; the reason names the first entry that is neither.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                parse_network(entry)
                    .ok_or_else(|| format!("`{entry}` is not an address or a CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_network(entry: &str) -> Option<IpNet> {
    if let Ok(net) = IpNet::from_str(entry) {
        return Some(net.trunc());
    }
    IpAddr::from_str(entry).ok().map(IpNet::from)
}

/// Where a request came from; `unknown` only without a TCP peer (never in service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(Option<IpAddr>);

impl ClientAddr {
    pub fn ip(&self) -> Option<IpAddr> {
        self.0
    }

    /// The request's client, worked out on first use and kept in its extensions.
    pub fn of(req: &HttpRequest) -> Self {
        if let Some(known) = req.extensions().get::<ClientAddr>() {
            return *known;
        }
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.settings.trusted_proxies.clone())
            .unwrap_or_default();
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok());
        let client = Self(resolve(
            req.peer_addr().map(|peer| peer.ip()),
            forwarded,
            &trusted,
        ));
        req.extensions_mut().insert(client);
        client
    }

    /// Loopback, or one of the allowed networks.
    pub fn is_loopback_or_in(&self, allowed: &Networks) -> bool {
        self.0
            .is_some_and(|ip| ip.to_canonical().is_loopback() || allowed.contains(ip))
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

impl FromRequest for ClientAddr {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(req)))
    }
}

/// The client behind `peer`. Only a trusted peer's `X-Forwarded-For` counts (anyone else could
/// write anything there); walking it from the right, each trusted proxy is skipped and the first
/// other address is the client. If every entry is a trusted proxy, the leftmost is the client;
/// an entry that is not an address ends the walk, since nothing to its left can be believed.
pub fn resolve<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &Networks,
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !trusted.contains(peer) {
        return Some(peer);
    }
    // Several headers count as one list, in order.
    let entries: Vec<&str> = forwarded_for
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded(entry) else {
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    Some(client)
}

/// An `X-Forwarded-For` entry: an address, or an address with a port (some proxies add one).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    IpAddr::from_str(entry)
        .or_else(|_| SocketAddr::from_str(entry).map(|socket| socket.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &str) -> Networks {
        Networks::parse(list).unwrap()
    }

    #[test]
    fn networks_take_addresses_and_cidrs() {
        let set = nets("10.0.0.0/8, 192.168.1.7 ,fd00::/8");
        assert!(set.contains(ip("10.1.2.3")));
        assert!(set.contains(ip("192.168.1.7")));
        assert!(!set.contains(ip("192.168.1.8")));
        assert!(set.contains(ip("fd00::1")));
        assert!(set.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped IPv6");
        assert!(nets("").is_empty());
        assert!(Networks::parse("10.0.0.0/33").is_err());
        assert!(Networks::parse("10.0.0.1, proxy.local").is_err());
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let trusted = nets("127.0.0.1/32, 10.0.0.0/8");
        let cases: &[(&str, &[&str], &str)] = &[
            // (peer, X-Forwarded-For headers, client)
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            ("127.0.0.1", &[], "127.0.0.1"),
            ("127.0.0.1", &["198.51.100.1"], "198.51.100.1"),
            ("127.0.0.1", &["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
            (
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.1, 10.0.0.2"],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &["6.6.6.6", "198.51.100.1, 10.0.0.2"],
                "198.51.100.1",
            ),
            ("127.0.0.1", &["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
            ("127.0.0.1", &["garbage, 10.0.0.2"], "10.0.0.2"),
            ("127.0.0.1", &["198.51.100.1:4711"], "198.51.100.1"),
            ("127.0.0.1", &["[2001:db8::1]:80"], "2001:db8::1"),
            ("::ffff:127.0.0.1", &["198.51.100.1"], "198.51.100.1"),
        ];
        for (peer, headers, client) in cases {
            let got = resolve(Some(ip(peer)), headers.iter().copied(), &trusted);
            assert_eq!(got, Some(ip(client)), "{peer} {headers:?}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let got = resolve(
            Some(ip("127.0.0.1")),
            ["198.51.100.1"].into_iter(),
            &Networks::default(),
        );
        assert_eq!(got, Some(ip("127.0.0.1")));
    }

    #[test]
    fn loopback_and_allowed_clients_may_read_metrics() {
        let allowed = nets("192.0.2.0/24");
        assert!(ClientAddr(Some(ip("127.0.0.1"))).is_loopback_or_in(&allowed));
        assert!(ClientAddr(Some(ip("::1"))).is_loopback_or_in(&allowed));
        assert!(ClientAddr(Some(ip("192.0.2.44"))).is_loopback_or_in(&allowed));
        assert!(!ClientAddr(Some(ip("198.51.100.1"))).is_loopback_or_in(&allowed));
        assert!(!ClientAddr(None).is_loopback_or_in(&allowed));
    }
}
