//! Building and running the service: `Application::build` connects, migrates, binds and knows
//! its port; `run_until_stopped` serves until a signal.
use std::{net::TcpListener, path::Path, sync::Arc};

use actix_web::{
    App, HttpServer,
    dev::Server,
    middleware::from_fn,
    web::{self, Data},
};
use anyhow::Context;
use jobs::{
    RedisStore, SharedClock, SystemClock,
    notify::Templates,
    push::Publisher,
    runtime::{JobContext, Runtime},
    scheduler::Periodic,
    wechat::WeChatClient,
};
use rand::RngCore;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::{AppExt, scope};
use utoipa_scalar::{Scalar, Servable};

use crate::{
    auth::{self, token::JwtKeys},
    canteen, community,
    config::{Environment, Settings},
    conversations, courses, db, deliveries,
    error::AppError,
    http::{idempotency, path_guard, request_id},
    instance_lock::{self, InstanceLock},
    live, me, messaging, openapi, ops, problems,
    state::AppState,
    volunteers, welfare, wishes,
};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    runtime: Option<Runtime>,
    /// On SQLite, this process's claim to the database file (one serving instance).
    instance_lock: Option<InstanceLock>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let instance_lock = instance_lock::acquire(&settings.database_url)?;
        let state = build_state(settings, clock).await?;
        let listener = TcpListener::bind(state.settings.bind)
            .with_context(|| format!("LINLI_BIND: cannot listen on {}", state.settings.bind))?;
        let port = listener.local_addr()?.port();
        let server = serve(listener, state.clone())?;
        let runtime = state.settings.embedded_workers.then(|| start_jobs(&state));
        live::start(&state);
        Ok(Self {
            port,
            server,
            state,
            runtime,
            instance_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT (actix stops gracefully), then lets the workers finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let _instance_lock = self.instance_lock;
        let served = self.server.await;
        if let Some(runtime) = self.runtime {
            runtime.stop().await;
        }
        served
    }
}

/// Starts the relay, the workers and the scheduler with Linli's housekeeping.
pub fn start_jobs(state: &AppState) -> Runtime {
    Runtime::start(state.jobs.clone(), housekeeping(state.db.clone()))
}

/// A housekeeping task on the database, run every `every` by whichever instance holds the tick.
fn periodic<F, Fut, T, E>(
    name: &'static str,
    every: chrono::Duration,
    db: &sea_orm::DatabaseConnection,
    task: F,
) -> Periodic
where
    F: Fn(sea_orm::DatabaseConnection, chrono::DateTime<chrono::Utc>) -> Fut
        + Send
        + Sync
        + Copy
        + 'static,
    Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
    E: std::fmt::Display,
{
    let db = db.clone();
    Periodic {
        name,
        every,
        run: Box::new(move |_ctx, now| {
            let db = db.clone();
            Box::pin(async move {
                if let Err(err) = task(db, now).await {
                    tracing::warn!(task = name, error = %err, "housekeeping task failed");
                }
            })
        }),
    }
}

fn housekeeping(db: sea_orm::DatabaseConnection) -> Vec<Periodic> {
    // Deadlines are kept to the second; each check is one index lookup.
    let (second, ten_minutes) = (chrono::Duration::seconds(1), chrono::Duration::minutes(10));
    vec![
        periodic("draw_lotteries", second, &db, |db, now| async move {
            courses::lottery::draw_due(&db, now).await
        }),
        periodic(
            "remind_course_sessions",
            second,
            &db,
            |db, now| async move { courses::reminders::send_due(&db, now).await },
        ),
        periodic("dispatch_at_cutoff", second, &db, |db, now| async move {
            deliveries::dispatch::dispatch_due(&db, now).await
        }),
        periodic(
            "expire_delivery_acceptances",
            second,
            &db,
            |db, now| async move { deliveries::dispatch::expire_acceptances(&db, now).await },
        ),
        periodic(
            "escalate_welfare_alerts",
            second,
            &db,
            |db, now| async move { welfare::service::escalate_due(&db, now).await },
        ),
        periodic("free_meal_rosters", second, &db, |db, now| async move {
            canteen::roster::run_due(&db, now).await
        }),
        periodic("expire_wish_claims", second, &db, |db, now| async move {
            wishes::service::expire_claims(&db, now).await
        }),
        periodic(
            "purge_idempotency_keys",
            ten_minutes,
            &db,
            |db, now| async move { idempotency::purge_expired(&db, now).await },
        ),
        Periodic {
            name: "queue_gauges",
            every: chrono::Duration::seconds(15),
            run: Box::new(|ctx, _now| {
                Box::pin(async move {
                    let _ = crate::messaging::admin::refresh_gauges(&ctx).await;
                })
            }),
        },
    ]
}

/// The application's queued work besides notifications.
fn job_handlers() -> jobs::runtime::Handlers {
    jobs::runtime::Handlers::default()
        .on(deliveries::dispatch::handle)
        .on(conversations::context::handle)
        .on(conversations::send::check_pending)
        .on(conversations::send::remind_offline)
}

pub async fn build_state(settings: Settings, clock: SharedClock) -> anyhow::Result<AppState> {
    ops::prometheus();
    let db = db::connect(&settings.database_url)
        .await
        .context("DATABASE_URL: cannot connect to the database")?;
    db::migrate(&db).await.context("applying migrations")?;
    let redis = RedisStore::new(&settings.redis_url, &settings.redis_prefix)
        .context("REDIS_URL: cannot use this Redis URL")?;
    let jwt_secret = jwt_secret(&settings)?;
    let wechat = WeChatClient::new(settings.wechat())
        .with_seccheck_budget(settings.wechat_seccheck_per_minute);
    let templates = Templates::parse(settings.wechat_templates.as_deref())
        .map_err(|reason| anyhow::anyhow!("LINLI_WECHAT_TEMPLATES: {reason}"))?;
    let push = Publisher::start(redis.clone());
    let jobs = JobContext {
        push: push.clone(),
        db: db.clone(),
        redis: redis.clone(),
        clock: clock.clone(),
        wechat: wechat.clone(),
        templates: Arc::new(templates),
        config: Arc::new(settings.jobs.clone()),
        handlers: Arc::new(job_handlers()),
    };
    let enrolments = crate::courses::EnrolQueue::start(&settings.database_url, &db)
        .await
        .context("DATABASE_URL: cannot connect the enrolment queue")?;
    Ok(AppState {
        enrolments,
        db,
        redis,
        jwt: JwtKeys::new(jwt_secret.as_bytes()),
        settings: Arc::new(settings),
        clock,
        wechat,
        jobs,
        push,
        live: live::Registry::default(),
    })
}

/// The configured secret, or in development one generated once and kept under `data/`.
fn jwt_secret(settings: &Settings) -> anyhow::Result<String> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.expose().to_owned());
    }
    anyhow::ensure!(
        settings.env == Environment::Development,
        "LINLI_JWT_SECRET: required in production"
    );
    let path = settings.data_dir.join("jwt_secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(&path, &secret).with_context(|| {
        format!(
            "LINLI_JWT_SECRET: cannot keep a generated secret at {}",
            path.display()
        )
    })?;
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let data = Data::new(state);
    let server = HttpServer::new(move || {
        let (app, api) = App::new()
            .into_utoipa_app()
            .openapi(openapi::base())
            .app_data(data.clone())
            .service(
                scope("/api/v1")
                    .wrap(from_fn(idempotency::middleware))
                    .configure(auth::routes::routes)
                    .configure(me::routes::routes)
                    .configure(community::routes::routes)
                    .configure(messaging::routes::routes)
                    .configure(volunteers::routes::routes)
                    .configure(wishes::routes::routes)
                    .configure(courses::routes::routes)
                    .configure(canteen::routes::routes)
                    .configure(deliveries::routes::routes)
                    .configure(welfare::routes::routes)
                    .configure(conversations::routes::routes)
                    .configure(problems::routes::routes)
                    .configure(live::routes::routes),
            )
            .configure(ops::routes)
            .split_for_parts();
        let api = openapi::finish(api);
        let json = web::Data::new(api.clone());
        app.app_data(json)
            .route("/openapi.json", web::get().to(openapi_json))
            .service(Scalar::with_url("/docs", api))
            .default_service(web::to(not_found))
            .wrap(from_fn(path_guard::middleware))
            .wrap(from_fn(ops::track))
            .wrap(from_fn(request_id::middleware))
            .wrap(TracingLogger::<request_id::LinliRootSpan>::new())
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

async fn openapi_json(doc: web::Data<utoipa::openapi::OpenApi>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(doc.get_ref())
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
