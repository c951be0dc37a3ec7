//! `dots`: the server and its operator commands.

use std::process::ExitCode;

use dots_server::commands::{Command, Writer};
use dots_server::config::{Settings, init_logging};
use dots_server::store::Store;

const USAGE: &str = "\
usage:
  dots serve [--listen ADDR] [--database-url URL]   run the API server (migrates first)
  dots migrate                                      apply database migrations
  dots apps create --name NAME [--currency USD] [--json]
                                                    create an app; prints its API secret once
  dots ledger check [--json]                        verify the ledger's invariants (exit 1 on a violation)

environment: DATABASE_URL (default sqlite://dots.db), DOTS_LISTEN (default 127.0.0.1:8080),
             DOTS_OPERATOR_KEY (enables POST /v2/apps), DOTS_LOG, DOTS_LOG_FORMAT=json";

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["serve", flags @ ..] => {
            if let Err(e) = apply_serve_flags(&mut settings, flags) {
                return fail(&e);
            }
            dots_server::serve(&settings).await.map(|_| ExitCode::SUCCESS)
        }
        ["migrate"] => Store::open(&settings.database_url, 2).await.map(|_| ExitCode::SUCCESS).map_err(Into::into),
        ["apps", "create", flags @ ..] => create_app(&settings, flags).await,
        ["ledger", "check", flags @ ..] => ledger_check(&settings, flags).await,
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => return fail(&format!("unknown command\n{USAGE}")),
    };
    result.unwrap_or_else(|e| fail(&e.to_string()))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("dots: {message}");
    ExitCode::from(2)
}

fn apply_serve_flags(settings: &mut Settings, flags: &[&str]) -> Result<(), String> {
    let mut rest = flags.iter();
    while let Some(flag) = rest.next() {
        let value = || rest.clone().next().map(|v| v.to_string()).ok_or(format!("{flag} needs a value"));
        match *flag {
            "--listen" => settings.listen = value()?,
            "--database-url" => settings.database_url = value()?,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
        rest.next();
    }
    Ok(())
}

async fn create_app(settings: &Settings, flags: &[&str]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (mut name, mut currency, mut json) = (None, None, false);
    let mut rest = flags.iter();
    while let Some(flag) = rest.next() {
        match *flag {
            "--name" => name = rest.next().map(|s| s.to_string()),
            "--currency" => currency = rest.next().map(|s| s.to_string()),
            "--json" => json = true,
            other => return Err(format!("unknown flag {other}\n{USAGE}").into()),
        }
    }
    let name = name.ok_or("apps create needs --name NAME")?;
    let request = dots_shared::api::CreateAppRequest { name, currency };
    let new_app = dots_server::apps::NewApp::validate(request).map_err(|e| e.message)?;
    let store = Store::open(&settings.database_url, 2).await?;
    let services = std::sync::Arc::new(dots_server::services::Services::new(settings, &store)?);
    let reply = Writer::new(store.clone(), services).submit(None, Command::CreateApp(new_app)).await?;
    store.close().await;
    if !reply.status.is_success() {
        return Err(String::from_utf8_lossy(&reply.body).into_owned().into());
    }
    let app: dots_shared::api::App = serde_json::from_slice(&reply.body)?;
    if json {
        println!("{}", serde_json::to_string(&app)?);
    } else {
        println!("app created: {} ({})", app.name, app.id);
        println!("client_id:   {}", app.client_id);
        println!("api_secret:  {}", app.api_secret.as_deref().unwrap_or(""));
        println!("The API secret is shown only now; store it safely.");
    }
    Ok(ExitCode::SUCCESS)
}

async fn ledger_check(settings: &Settings, flags: &[&str]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let json = match flags {
        [] => false,
        ["--json"] => true,
        _ => return Err(format!("unknown flags\n{USAGE}").into()),
    };
    let store = Store::connect(&settings.database_url, 2).await?;
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
