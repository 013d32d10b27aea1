//! `lmc sim-server`: the offline simulator as an OpenAI-compatible HTTP server on loopback,
//! with optional latency and fault injection (see `lmc::sim::server`).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use lmc::sim::server::{FaultConfig, SimServer};
use lmc::sim::{SimSettings, SimWorld};

use crate::cli::SimServerArgs;
use crate::output::print_line;

pub(crate) fn sim_server(args: &SimServerArgs) -> anyhow::Result<ExitCode> {
    let mut settings = SimSettings::default();
    if let Some(field) = &args.answer_field {
        settings.answer_field = field.clone();
    }
    settings.answer_column = args.answer_column.clone();
    settings.hints = args.hints.clone();
    settings.seed = args.sim_seed;
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        p429: args.p429,
        p500: args.p500,
        p503: args.p503,
        pdrop: args.pdrop,
        pgarbage: args.pgarbage,
        ptrunc: args.ptrunc,
        retry_after_secs: args.retry_after,
        seed: args.seed,
    };
    faults.validate().map_err(|e| anyhow!("invalid fault settings: {e}"))?;
    let world = SimWorld::load(&args.world, settings)?;
    let items = world.len();

    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
        let server =
            SimServer::bind(Arc::new(world), faults, addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        print_line(&format!(
            "lmc sim-server: serving {} ({items} items) at {} — a simulator, not a model",
            server.model(),
            server.base_url()
        ))?;
        let _ = writeln!(std::io::stderr().lock(), "{}", describe(server.faults()));
        // Runs until Ctrl-C; then the totals go to stderr.
        let stats = server.stats_handle();
        server
            .serve_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the simulator server stopped")?;
        let _ = writeln!(std::io::stderr().lock(), "lmc sim-server: stopped; {}", serde_json::to_string(&stats())?);
        Ok(ExitCode::SUCCESS)
    })
}

/// One line on what the server injects.
fn describe(faults: &FaultConfig) -> String {
    let mut parts = Vec::new();
    if faults.latency_ms > 0 || faults.jitter_ms > 0 {
        parts.push(format!("latency {} ± {} ms", faults.latency_ms, faults.jitter_ms));
    }
    for (name, p) in [
        ("429", faults.p429),
        ("500", faults.p500),
        ("503", faults.p503),
        ("drop", faults.pdrop),
        ("garbage", faults.pgarbage),
        ("truncate", faults.ptrunc),
    ] {
        if p > 0.0 {
            parts.push(format!("{name} {p}"));
        }
    }
    if faults.p429 > 0.0 {
        parts.push(format!("Retry-After {} s", faults.retry_after_secs));
    }
    if parts.is_empty() {
        "faults: none".to_string()
    } else {
        format!("faults (seed {}): {}", faults.seed, parts.join(", "))
    }
}
