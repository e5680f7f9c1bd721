//! `version` and `info`.

use serde_json::Value;

use crate::client::{Body, Client};
use crate::Failure;

/// `berth version`: client and server.
pub fn version(c: &Client) -> Result<i32, Failure> {
    println!("Client:");
    println!(" Version:           {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:       1.45");
    println!(" OS/Arch:           linux/{}", std::env::consts::ARCH);
    println!();
    let v: Value = c.json("GET", "/version", Body::Empty)?;
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    println!(
        "Server: {}",
        v["Platform"]["Name"].as_str().unwrap_or("Berth Engine")
    );
    println!(" Engine:");
    println!("  Version:          {}", s("Version"));
    println!(
        "  API version:      {} (minimum version {})",
        s("ApiVersion"),
        s("MinAPIVersion")
    );
    println!("  OS/Arch:          {}/{}", s("Os"), s("Arch"));
    println!("  Kernel version:   {}", s("KernelVersion"));
    Ok(0)
}

/// `berth info`.
pub fn info(c: &Client) -> Result<i32, Failure> {
    let v: Value = c.json("GET", "/info", Body::Empty)?;
    let g = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    println!("Server:");
    println!(" Containers: {}", g("Containers"));
    println!("  Running: {}", g("ContainersRunning"));
    println!("  Paused: {}", g("ContainersPaused"));
    println!("  Stopped: {}", g("ContainersStopped"));
    println!(" Images: {}", g("Images"));
    println!(" Server Version: {}", g("ServerVersion"));
    println!(" Storage Driver: {}", g("Driver"));
    println!(" Logging Driver: {}", g("LoggingDriver"));
    println!(" Cgroup Driver: {}", g("CgroupDriver"));
    println!(" Default Runtime: {}", g("DefaultRuntime"));
    println!(" Kernel Version: {}", g("KernelVersion"));
    println!(" Operating System: {}", g("OperatingSystem"));
    println!(" Architecture: {}", g("Architecture"));
    println!(" CPUs: {}", g("NCPU"));
    println!(" Total Memory: {}", g("MemTotal"));
    println!(" Name: {}", g("Name"));
    println!(" Docker Root Dir: {}", g("DockerRootDir"));
    Ok(0)
}
