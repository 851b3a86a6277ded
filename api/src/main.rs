//! `linli serve | worker | migrate`: read settings, set up logging, run.
use clap::{Parser, Subcommand};
use linli_api::{Application, Settings, config::Environment, db};
use tracing_subscriber::EnvFilter;

/// mimalloc: under many threads glibc malloc spends a fifth of the CPU in its own locks and
/// consolidation (perf, `course_bench`); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "linli",
    about = "Linli (邻里): a residential community's services"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (and, unless LINLI_EMBEDDED_WORKERS=false, the workers and scheduler).
    Serve,
    /// Run the queue workers and the scheduler only.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
}

fn init_logging(env: Environment) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LINLI_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => env == Environment::Production,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

/// SIGTERM (how supervisors stop us) or Ctrl-C.
async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => Ok(()),
            result = tokio::signal::ctrl_c() => result,
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("linli: configuration error: {err}");
            std::process::exit(2);
        }
    };
    init_logging(settings.env);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // One line naming the setting at fault (e.g. a second instance on one SQLite file).
            let app = match Application::build(settings).await {
                Ok(app) => app,
                Err(err) => {
                    eprintln!("linli: cannot start: {err:#}");
                    std::process::exit(1);
                }
            };
            tracing::info!(port = app.port(), "linli is serving");
            app.run_until_stopped().await?;
        }
        Command::Worker => {
            let clock = std::sync::Arc::new(jobs::SystemClock);
            let state = linli_api::startup::build_state(settings, clock).await?;
            let runtime = linli_api::startup::start_jobs(&state);
            tracing::info!("linli worker is running");
            wait_for_signal().await?;
            tracing::info!("stopping: finishing the jobs in hand");
            runtime.stop().await;
        }
        Command::Migrate => {
            let db = db::connect(&settings.database_url).await?;
            db::migrate(&db).await?;
            tracing::info!("migrations applied");
        }
    }
    Ok(())
}
