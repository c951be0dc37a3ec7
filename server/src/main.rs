//! `dots`: the server and its operator commands. Every flag has an environment
//! variable beside it; `dots --help` and `dots <command> --help` list them.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use dots_server::config::{DEFAULT_DATABASE_URL, Settings, SettingsArgs, init_logging};
use dots_server::store::Store;
use dots_server::writer::Writer;

const LOGGING: &str = "Logging: DOTS_LOG sets levels (EnvFilter syntax, default info,sqlx=warn); DOTS_LOG_FORMAT=json \
                       writes JSON lines. Logs go to stderr.";

#[derive(Parser)]
#[command(name = "dots", version, about = "Dots: a self-hostable payouts server and its operator commands.")]
#[command(after_help = LOGGING)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the API server (applies database migrations first).
    #[command(after_help = LOGGING)]
    Serve(Box<SettingsArgs>),
    /// Apply database migrations and exit.
    Migrate(Database),
    /// Manage apps (tenants).
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Check the ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check a configuration for a live deployment: what is missing, what is unsafe
    /// (exit 1 when anything is), and the live apps it could not serve.
    Doctor {
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
    /// The ACH rail's NACHA files: list, download, settle, cut off now, ingest returns.
    #[command(subcommand)]
    Ach(AchCommand),
}

#[derive(Subcommand)]
enum AchCommand {
    /// The files, newest first.
    Files {
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
    /// Print a file's NACHA text (for the bank) to stdout.
    Download {
        /// The file's id (achf_…).
        id: String,
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
    /// Settle a file: its payouts not returned become completed.
    Settle {
        /// The file's id (achf_…).
        id: String,
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
    /// Gather the waiting bank payouts into a file now, as a cut-off does.
    Cutoff {
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
    /// Ingest a bank's NACHA return file: returned payouts fail or are reversed.
    /// Ingesting the same file again changes nothing.
    Returns {
        /// The return file's path.
        file: std::path::PathBuf,
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-seal everything under DOTS_ENCRYPTION_KEY that older keys sealed. Give the
    /// servers the new key with the old one in DOTS_ENCRYPTION_KEYS_OLD first; once this
    /// reports nothing unreadable, the old key can be dropped.
    Rotate {
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
}

#[derive(Subcommand)]
enum AppsCommand {
    /// Create an app; prints its API secret once.
    Create(CreateApp),
    /// Invite someone to an app's team (its first owner, say); prints the
    /// single-use link (7 days) once.
    Invite(InviteMember),
}

#[derive(Args)]
struct InviteMember {
    /// The app's id (app_…).
    #[arg(long)]
    app: String,
    #[arg(long)]
    email: String,
    /// owner, admin, reviewer or viewer.
    #[arg(long, default_value = "owner")]
    role: String,
    #[command(flatten)]
    settings: Box<SettingsArgs>,
}

#[derive(Args)]
struct CreateApp {
    /// The app's name, as payees see it.
    #[arg(long)]
    name: String,
    /// The app wallet's currency.
    #[arg(long)]
    currency: Option<String>,
    /// `test` (the default: the sandbox, no real money) or `live`.
    #[arg(long)]
    mode: Option<String>,
    /// Print the app as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    settings: Box<SettingsArgs>,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Verify the ledger's invariants (exit 1 on a violation).
    Check {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: Database,
    },
}

#[derive(Args)]
struct Database {
    /// Database: sqlite://PATH (embedded default) or postgres://…
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    init_logging();
    let result = match cli.command {
        Commands::Serve(args) => match Settings::from_args(*args) {
            Ok(settings) => dots_server::serve(&settings).await.map(|()| ExitCode::SUCCESS),
            Err(e) => return fail(&e),
        },
        Commands::Migrate(db) => Store::open(&db.database_url, 2).await.map(|_| ExitCode::SUCCESS).map_err(Into::into),
        Commands::Apps(AppsCommand::Create(create)) => create_app(create).await,
        Commands::Apps(AppsCommand::Invite(invite)) => invite_member(invite).await,
        Commands::Ledger(LedgerCommand::Check { json, database }) => ledger_check(&database.database_url, json).await,
        Commands::Keys(KeysCommand::Rotate { settings }) => rotate_keys(*settings).await,
        Commands::Ach(command) => ach(command).await,
        Commands::Doctor { settings } => doctor(*settings).await,
    };
    result.unwrap_or_else(|e| fail(&e.to_string()))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("dots: {message}");
    ExitCode::from(2)
}

async fn create_app(args: CreateApp) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let settings = Settings::from_args(*args.settings)?;
    let request = dots_shared::api::CreateAppRequest {
        name: args.name,
        currency: args.currency,
        mode: args.mode,
        payout_method_types: None,
    };
    let new_app = dots_server::apps::NewApp::validate(request).map_err(|e| e.message)?;
    let store = Store::open(&settings.database_url, 2).await?;
    let services = std::sync::Arc::new(dots_server::services::Services::new(&settings, &store)?);
    if new_app.mode == "live" {
        let missing = services.readiness.missing(&new_app.payout_method_types);
        if !missing.is_empty() {
            return Err(dots_server::live::not_ready(&format!("“{}”", new_app.name), &missing).message.into());
        }
    }
    let writer = Writer::new(store.clone(), services);
    let reply = writer
        .run(dots_server::writer::Origin::default(), new_app, |conn, app, now| {
            Box::pin(async move {
                let created = dots_server::apps::create(conn, app, now).await?;
                Ok(dots_server::error::Reply::json(http::StatusCode::CREATED, &created)?)
            })
        })
        .await?;
    store.close().await;
    if !reply.status.is_success() {
        return Err(String::from_utf8_lossy(&reply.body).into_owned().into());
    }
    let app: dots_shared::api::App = serde_json::from_slice(&reply.body)?;
    if args.json {
        println!("{}", serde_json::to_string(&app)?);
    } else {
        println!("app created: {} ({})", app.name, app.id);
        println!("client_id:   {}", app.client_id);
        println!("api_secret:  {}", app.api_secret.as_deref().unwrap_or(""));
        println!("The API secret is shown only now; store it safely.");
    }
    Ok(ExitCode::SUCCESS)
}

async fn invite_member(args: InviteMember) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use dots_server::members;
    let settings = Settings::from_args(*args.settings)?;
    let invitation = members::NewInvitation {
        app_id: args.app,
        email: members::normalize_email(&args.email).map_err(|e| e.message)?,
        role: members::parse_role(&args.role).map_err(|e| e.message)?,
        invited_by: "operator".into(),
        token: members::new_token("dmi_"),
    };
    let store = Store::open(&settings.database_url, 2).await?;
    let services = std::sync::Arc::new(dots_server::services::Services::new(&settings, &store)?);
    let writer = Writer::new(store.clone(), services.clone());
    let reply = writer
        .run(dots_server::writer::Origin::default(), (services, invitation), |conn, (services, invitation), now| {
            Box::pin(async move {
                let made = members::invite(conn, &services.public_url, invitation, now).await?;
                Ok(dots_server::error::Reply::json(http::StatusCode::CREATED, &made)?)
            })
        })
        .await?;
    store.close().await;
    if !reply.status.is_success() {
        return Err(String::from_utf8_lossy(&reply.body).into_owned().into());
    }
    let made: dots_shared::api::Invitation = serde_json::from_slice(&reply.body)?;
    println!("invited {} to {} as {}", made.email, made.app_id, made.role);
    println!("link: {}", made.url.as_deref().unwrap_or(""));
    println!("The link works once, until {}; it is shown only now.", made.expires_at);
    Ok(ExitCode::SUCCESS)
}

async fn doctor(args: SettingsArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use dots_server::live::{self, Severity};
    let settings = Settings::from_args(args)?;
    let mut found = live::doctor(&settings);
    // The database: reachable, and every live app in it servable.
    match Store::connect(&settings.database_url, 1).await {
        Ok(store) => {
            if let Err(refusals) = live::check_live_apps(&store, &live::Readiness::of(&settings)).await {
                found.extend(refusals.lines().map(|r| (Severity::Missing, r.to_string())));
            }
            store.close().await;
        }
        Err(e) => found.push((Severity::Missing, format!("the database cannot be reached: {e}"))),
    }
    for (severity, text) in &found {
        println!("{:<8} {text}", format!("{}:", severity.as_str()));
    }
    let problems = found.iter().filter(|(s, _)| *s != Severity::Note).count();
    if problems == 0 {
        println!("ok: nothing missing or unsafe for a live deployment");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} to fix before this server moves real money");
        Ok(ExitCode::from(1))
    }
}

async fn ach(command: AchCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use dots_server::ach_rail;
    use dots_server::writer::Origin;
    let (AchCommand::Files { settings }
    | AchCommand::Download { settings, .. }
    | AchCommand::Settle { settings, .. }
    | AchCommand::Cutoff { settings }
    | AchCommand::Returns { settings, .. }) = &command;
    let settings = Settings::from_args((**settings).clone())?;
    if settings.ach.is_none() {
        return Err(ach_rail::not_configured().message.into());
    }
    let store = Store::open(&settings.database_url, 2).await?;
    let services = std::sync::Arc::new(dots_server::services::Services::new(&settings, &store)?);
    let writer = Writer::new(store.clone(), services.clone());
    // What a change answered, as its type (a refusal: its body, as the error).
    fn answer<T: serde::de::DeserializeOwned>(
        reply: dots_server::error::Reply,
    ) -> Result<T, Box<dyn std::error::Error>> {
        if !reply.status.is_success() {
            return Err(String::from_utf8_lossy(&reply.body).into_owned().into());
        }
        Ok(serde_json::from_slice(&reply.body)?)
    }
    let mut conn = store.reader().acquire().await?;
    match command {
        AchCommand::Files { .. } => {
            for file in ach_rail::files(&mut conn, 100, None).await? {
                println!("{}", ach_rail::describe(&file));
            }
        }
        AchCommand::Download { id, .. } => print!("{}", ach_rail::file_text(&mut conn, &services.keys, &id).await?),
        AchCommand::Settle { id, .. } => {
            let file: dots_shared::api::AchFile = answer(ach_rail::settle_now(&writer, Origin::default(), id).await?)?;
            println!("{}", ach_rail::describe(&file));
        }
        AchCommand::Cutoff { .. } => {
            let cut: dots_shared::api::AchCutOff =
                answer(ach_rail::cut_off_now(&store, &writer, &services, Origin::default()).await?)?;
            match cut.file {
                Some(file) => println!("{}", ach_rail::describe(&file)),
                None => println!("no bank payout was waiting: no file"),
            }
        }
        AchCommand::Returns { file, .. } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let report: dots_shared::api::AchReturns =
                answer(ach_rail::returns_now(&writer, Origin::default(), text).await?)?;
            for r in &report.applied {
                let what = r.transfer_id.as_deref().unwrap_or("a funding account's pre-note");
                let now = r.status.map_or("the funding account failed", |s| s.as_str());
                let suspended = if r.app_suspended { "; its app is suspended" } else { "" };
                println!("{}  {} {what}  {} ({})  {now}{suspended}", r.trace, r.kind, r.code, r.meaning);
            }
            let unmatched =
                if report.unmatched.is_empty() { String::new() } else { format!(": {}", report.unmatched.join(", ")) };
            println!(
                "{} returns applied, {} already applied, {} unmatched{unmatched}",
                report.applied.len(),
                report.already_applied,
                report.unmatched.len(),
            );
        }
    }
    drop(conn);
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn rotate_keys(args: SettingsArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let settings = Settings::from_args(args)?;
    let keys = settings.keys()?;
    let store = Store::open(&settings.database_url, 2).await?;
    let done = dots_server::rekey::reseal_all(&store, &keys).await?;
    store.close().await;
    println!(
        "re-sealed {} values under key {}; {} no given key opens",
        done.resealed,
        keys.primary_id(),
        done.unreadable
    );
    Ok(if done.unreadable == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn ledger_check(database_url: &str, json: bool) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let store = Store::connect(database_url, 2).await?;
    let report = dots_server::ledger::check(&store).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.is_ok() {
        println!(
            "ledger ok: {} accounts, {} transactions, {} transfers; every invariant holds",
            report.accounts, report.transactions, report.transfers
        );
    } else {
        for v in &report.violations {
            println!("VIOLATION {}: {}", v.rule, v.detail);
        }
    }
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
