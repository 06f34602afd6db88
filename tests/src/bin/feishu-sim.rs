//! Run the Feishu simulator on its own, to point a host at it by hand:
//! `cargo run -p mica-tests --bin feishu-sim -- --listen 127.0.0.1:9090`
//! It also answers the `/_sim/*` control endpoints (see `sim/control.rs`), which the Python
//! bridge's tests use; `--listen 127.0.0.1:0` picks a free port, printed on the first line.

use clap::Parser;
use mica_tests::sim::{APP_ID, APP_SECRET, FeishuSim};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let sim = FeishuSim::start_with_control(args.listen).await;
    println!("Feishu simulator on {}", sim.base_url());
    println!("app_id {APP_ID}  app_secret {APP_SECRET}");
    let mut seen = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let messages = sim.messages();
        for m in &messages[seen..] {
            println!(
                "message {} to {}={}: {}",
                m.message_id, m.receive_id_type, m.receive_id, m.card["header"]["title"]["content"]
            );
        }
        seen = messages.len();
    }
}
