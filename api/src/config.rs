//! Typed settings read once from the environment (`LINLI_…`, `DATABASE_URL`, `REDIS_URL`),
//! with development defaults that need nothing. A bad value names its variable.
use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf, time::Duration};

use jobs::wechat::WeChatConfig;
use url::Url;

use crate::http::client_addr::Networks;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub env: Environment,
    pub bind: SocketAddr,
    pub database_url: String,
    pub redis_url: String,
    pub redis_prefix: String,
    /// `None` in development means: generate one and keep it under `data/`.
    pub jwt_secret: Option<Secret>,
    pub dev_login: bool,
    /// Load balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Networks,
    /// Who may read `/metrics` besides loopback.
    pub metrics_allow: Networks,
    pub bootstrap_admins: Vec<String>,
    pub login_rate_per_minute: u32,
    pub embedded_workers: bool,
    pub wechat_base_url: Url,
    pub wechat_appid: Option<String>,
    pub wechat_secret: Option<Secret>,
    /// Raw JSON (or a path to it); parsed by the notifications code.
    pub wechat_templates: Option<String>,
    /// `msg_sec_check` calls a minute for the whole installation.
    pub wechat_seccheck_per_minute: u32,
    pub data_dir: PathBuf,
    pub jobs: jobs::runtime::JobsConfig,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    /// A WebSocket that sends nothing for this long is closed.
    pub ws_idle_secs: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(variable, "expected true or false")),
    }
}

/// Unless said otherwise, dev login is on only in development on a loopback address: anyone who
/// can reach it can log in as anybody, so an exposed server must ask for it by name.
fn dev_login_by_default(env: Environment, bind: SocketAddr) -> bool {
    env == Environment::Development && bind.ip().to_canonical().is_loopback()
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads settings from a map of variables, so tests need not touch the process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let env = match get("LINLI_ENV").unwrap_or("development") {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            _ => return Err(invalid("LINLI_ENV", "expected development or production")),
        };
        let production = env == Environment::Production;

        let bind = get("LINLI_BIND")
            .unwrap_or("127.0.0.1:8080")
            .parse::<SocketAddr>()
            .map_err(|_| invalid("LINLI_BIND", "expected host:port, e.g. 127.0.0.1:8080"))?;

        let database_url = get("DATABASE_URL")
            .unwrap_or("sqlite://data/linli.db?mode=rwc")
            .to_owned();
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(invalid(
                "DATABASE_URL",
                "expected a sqlite:// or postgres:// URL",
            ));
        }
        Url::parse(&database_url).map_err(|_| invalid("DATABASE_URL", "not a valid URL"))?;

        let redis_url = get("REDIS_URL")
            .unwrap_or("redis://127.0.0.1:6379")
            .to_owned();
        redis::Client::open(redis_url.as_str())
            .map_err(|_| invalid("REDIS_URL", "not a valid redis:// URL"))?;

        let redis_prefix = get("LINLI_REDIS_PREFIX").unwrap_or("linli").to_owned();

        let jwt_secret = get("LINLI_JWT_SECRET").map(Secret::new);
        if let Some(secret) = &jwt_secret
            && secret.expose().len() < 32
        {
            return Err(invalid(
                "LINLI_JWT_SECRET",
                "must be at least 32 characters",
            ));
        }
        if production && jwt_secret.is_none() {
            return Err(invalid(
                "LINLI_JWT_SECRET",
                "required in production (at least 32 random characters)",
            ));
        }

        let dev_login = match get("LINLI_DEV_LOGIN") {
            Some(v) => parse_bool("LINLI_DEV_LOGIN", v)?,
            None => dev_login_by_default(env, bind),
        };
        if production && dev_login {
            return Err(invalid(
                "LINLI_DEV_LOGIN",
                "dev login must not be enabled in production",
            ));
        }

        let networks = |variable: &'static str| -> Result<Networks, ConfigError> {
            get(variable).map_or(Ok(Networks::default()), |v| {
                Networks::parse(v).map_err(|reason| invalid(variable, reason))
            })
        };
        let trusted_proxies = networks("LINLI_TRUSTED_PROXIES")?;
        let metrics_allow = networks("LINLI_METRICS_ALLOW")?;

        let bootstrap_admins = get("LINLI_BOOTSTRAP_ADMINS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();

        let login_rate_per_minute = get("LINLI_LOGIN_RATE_PER_MINUTE")
            .unwrap_or("30")
            .parse::<u32>()
            .map_err(|_| invalid("LINLI_LOGIN_RATE_PER_MINUTE", "expected a whole number"))?;

        let embedded_workers = match get("LINLI_EMBEDDED_WORKERS") {
            Some(v) => parse_bool("LINLI_EMBEDDED_WORKERS", v)?,
            None => true,
        };

        let wechat_base_url = get("LINLI_WECHAT_BASE_URL")
            .unwrap_or("https://api.weixin.qq.com")
            .parse::<Url>()
            .map_err(|_| invalid("LINLI_WECHAT_BASE_URL", "not a valid URL"))?;
        let wechat_appid = get("LINLI_WECHAT_APPID").map(str::to_owned);
        let wechat_secret = get("LINLI_WECHAT_SECRET").map(Secret::new);
        if wechat_appid.is_some() != wechat_secret.is_some() {
            return Err(invalid(
                "LINLI_WECHAT_SECRET",
                "LINLI_WECHAT_APPID and LINLI_WECHAT_SECRET go together",
            ));
        }
        let wechat_templates = get("LINLI_WECHAT_TEMPLATES").map(str::to_owned);

        jobs::notify::Templates::parse(wechat_templates.as_deref())
            .map_err(|reason| invalid("LINLI_WECHAT_TEMPLATES", reason))?;

        let wechat_seccheck_per_minute = get("LINLI_WECHAT_SECCHECK_PER_MINUTE")
            .unwrap_or("3600")
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                invalid(
                    "LINLI_WECHAT_SECCHECK_PER_MINUTE",
                    "expected a whole number above 0",
                )
            })?;

        let data_dir = PathBuf::from(get("LINLI_DATA_DIR").unwrap_or("data"));

        let number = |variable: &'static str, default: u64| -> Result<u64, ConfigError> {
            get(variable).map_or(Ok(default), |v| {
                v.parse::<u64>()
                    .map_err(|_| invalid(variable, "expected a whole number"))
            })
        };
        let defaults = jobs::runtime::JobsConfig::default();
        let jobs = jobs::runtime::JobsConfig {
            max_attempts: i32::try_from(number("LINLI_JOB_MAX_ATTEMPTS", 8)?.clamp(1, 100))
                .unwrap_or(8),
            reclaim_idle: Duration::from_millis(
                number("LINLI_JOB_RECLAIM_IDLE_MS", 30_000)?.max(100),
            ),
            sweep_after: chrono::Duration::seconds(
                i64::try_from(number("LINLI_OUTBOX_SWEEP_SECS", 120)?.max(1)).unwrap_or(120),
            ),
            poll_interval: Duration::from_millis(number("LINLI_JOB_POLL_MS", 100)?.max(10)),
            ..defaults
        };

        let ws_idle_secs = number("LINLI_WS_IDLE_SECS", 60)?.clamp(1, 3600);

        Ok(Self {
            env,
            bind,
            database_url,
            redis_url,
            redis_prefix,
            jwt_secret,
            dev_login,
            trusted_proxies,
            metrics_allow,
            bootstrap_admins,
            login_rate_per_minute,
            embedded_workers,
            wechat_base_url,
            wechat_appid,
            wechat_secret,
            wechat_templates,
            wechat_seccheck_per_minute,
            data_dir,
            jobs,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            ws_idle_secs,
        })
    }

    pub fn wechat(&self) -> Option<WeChatConfig> {
        let mut base_url = self.wechat_base_url.clone();
        // `Url::join` drops the last path segment unless the base ends with a slash.
        if !base_url.path().ends_with('/') {
            base_url.set_path(&format!("{}/", base_url.path()));
        }
        Some(WeChatConfig {
            base_url,
            appid: self.wechat_appid.clone()?,
            secret: self.wechat_secret.as_ref()?.expose().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let s = Settings::from_vars(&HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://data/linli.db?mode=rwc");
        assert!(s.dev_login);
        assert!(s.embedded_workers);
        assert_eq!(s.login_rate_per_minute, 30);
        assert_eq!(s.ws_idle_secs, 60);
        assert!(s.wechat().is_none());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases = [
            ("LINLI_BIND", "localhost"),
            ("LINLI_BIND", "127.0.0.1:99999"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "not a url"),
            ("LINLI_DEV_LOGIN", "maybe"),
            ("LINLI_LOGIN_RATE_PER_MINUTE", "-1"),
            ("LINLI_ENV", "staging"),
            ("LINLI_WECHAT_TEMPLATES", "{not json"),
            ("LINLI_JOB_MAX_ATTEMPTS", "many"),
            ("LINLI_WECHAT_SECCHECK_PER_MINUTE", "0"),
            ("LINLI_TRUSTED_PROXIES", "10.0.0.0/8, lb.internal"),
            ("LINLI_TRUSTED_PROXIES", "10.0.0.0/40"),
            ("LINLI_METRICS_ALLOW", "everyone"),
            ("LINLI_WS_IDLE_SECS", "soon"),
        ];
        for (variable, value) in cases {
            let err = Settings::from_vars(&vars(&[(variable, value)]))
                .err()
                .unwrap_or_else(|| panic!("{variable}={value} was accepted"));
            assert_eq!(err.variable, variable, "{variable}={value}");
        }
    }

    #[test]
    fn production_refuses_dev_login_and_a_missing_secret() {
        let err = Settings::from_vars(&vars(&[("LINLI_ENV", "production")])).err();
        assert_eq!(err.map(|e| e.variable), Some("LINLI_JWT_SECRET"));

        let secret = "s".repeat(40);
        let err = Settings::from_vars(&vars(&[
            ("LINLI_ENV", "production"),
            ("LINLI_JWT_SECRET", &secret),
            ("LINLI_DEV_LOGIN", "true"),
        ]))
        .err();
        assert_eq!(err.map(|e| e.variable), Some("LINLI_DEV_LOGIN"));

        let ok = Settings::from_vars(&vars(&[
            ("LINLI_ENV", "production"),
            ("LINLI_JWT_SECRET", &secret),
        ]));
        assert!(ok.is_ok_and(|s| !s.dev_login));
    }

    #[test]
    fn dev_login_is_on_by_default_only_on_a_loopback_bind() {
        let secret = "s".repeat(40);
        // (LINLI_ENV, LINLI_BIND, LINLI_DEV_LOGIN, enabled)
        let cases = [
            ("development", "127.0.0.1:8080", None, true),
            ("development", "[::1]:8080", None, true),
            ("development", "0.0.0.0:8080", None, false),
            ("development", "[::]:8080", None, false),
            ("development", "192.168.1.20:8080", None, false),
            ("development", "0.0.0.0:8080", Some("true"), true),
            ("development", "127.0.0.1:8080", Some("false"), false),
            ("production", "127.0.0.1:8080", None, false),
            ("production", "0.0.0.0:8080", Some("false"), false),
        ];
        for (env, bind, switch, enabled) in cases {
            let mut pairs = vec![
                ("LINLI_ENV", env),
                ("LINLI_BIND", bind),
                ("LINLI_JWT_SECRET", secret.as_str()),
            ];
            pairs.extend(switch.map(|v| ("LINLI_DEV_LOGIN", v)));
            let settings = Settings::from_vars(&vars(&pairs))
                .unwrap_or_else(|e| panic!("{env} {bind} {switch:?}: {e}"));
            assert_eq!(settings.dev_login, enabled, "{env} {bind} {switch:?}");
        }
        let refused = Settings::from_vars(&vars(&[
            ("LINLI_ENV", "production"),
            ("LINLI_BIND", "0.0.0.0:8080"),
            ("LINLI_JWT_SECRET", &secret),
            ("LINLI_DEV_LOGIN", "true"),
        ]));
        assert_eq!(refused.err().map(|e| e.variable), Some("LINLI_DEV_LOGIN"));
    }

    #[test]
    fn proxies_and_metrics_readers_are_address_lists() {
        let s = Settings::from_vars(&vars(&[
            ("LINLI_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8"),
            ("LINLI_METRICS_ALLOW", "192.0.2.7"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert!(s.metrics_allow.contains("192.0.2.7".parse().unwrap()));
        assert!(!s.metrics_allow.contains("192.0.2.8".parse().unwrap()));
        let none = Settings::from_vars(&HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.trusted_proxies.is_empty() && none.metrics_allow.is_empty());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
