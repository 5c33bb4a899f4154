//! The official `openstack` CLI (python-openstackclient) against an in-process cloud.
//! The CLI is found through `HOLDFAST_OPENSTACK_CLI`, then `/opt/holdfast-venv/bin/openstack`,
//! then `openstack` on PATH; without one this test fails.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::spawn_cloud;

fn find_cli() -> PathBuf {
    if let Ok(p) = std::env::var("HOLDFAST_OPENSTACK_CLI") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "HOLDFAST_OPENSTACK_CLI={} does not exist",
            p.display()
        );
        return p;
    }
    let venv = PathBuf::from("/opt/holdfast-venv/bin/openstack");
    if venv.is_file() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let c = dir.join("openstack");
            if c.is_file() {
                return c;
            }
        }
    }
    panic!(
        "the openstack CLI is required: install it with `python3 -m venv /opt/holdfast-venv && /opt/holdfast-venv/bin/pip install python-openstackclient` or set HOLDFAST_OPENSTACK_CLI"
    );
}

struct Cli {
    exe: PathBuf,
    auth_url: String,
}

impl Cli {
    async fn run(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new(&self.exe)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("OS_AUTH_URL", &self.auth_url)
            .env("OS_USERNAME", "admin")
            .env("OS_PASSWORD", "secret")
            .env("OS_PROJECT_NAME", "admin")
            .env("OS_USER_DOMAIN_NAME", "Default")
            .env("OS_PROJECT_DOMAIN_NAME", "Default")
            .env("OS_IDENTITY_API_VERSION", "3")
            .env("OS_REGION_NAME", "RegionOne")
            .output()
            .await
            .expect("the openstack CLI runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "openstack {args:?} failed:\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        let out = self.run(&a).await;
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("openstack {args:?}: not JSON ({e}): {out}"))
    }

    /// Polls `show` until `field` equals `want`.
    async fn wait_field(&self, show: &[&str], field: &str, want: &str) -> Value {
        crate::support::eventually(&format!("{show:?} {field}={want}"), 60, || async {
            let v = self.json(show).await;
            (v[field] == want).then_some(v)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openstack_cli_drives_the_cloud_end_to_end() {
    let exe = find_cli();
    let cloud = spawn_cloud().await;
    let cli = Cli {
        exe,
        auth_url: cloud.auth_url(),
    };

    let token = cli.json(&["token", "issue"]).await;
    assert!(token["id"].as_str().is_some_and(|t| !t.is_empty()));

    let project = cli
        .json(&[
            "project",
            "create",
            "--description",
            "cli test",
            "cli-project",
        ])
        .await;
    assert_eq!(project["name"], "cli-project");

    let ext = cli
        .json(&["network", "create", "--external", "public"])
        .await;
    assert_eq!(ext["router:external"], true);
    cli.json(&[
        "subnet",
        "create",
        "--network",
        "public",
        "--subnet-range",
        "203.0.113.0/24",
        "public-subnet",
    ])
    .await;
    let net = cli.json(&["network", "create", "cli-net"]).await;
    let sub = cli
        .json(&[
            "subnet",
            "create",
            "--network",
            "cli-net",
            "--subnet-range",
            "10.10.0.0/24",
            "cli-subnet",
        ])
        .await;
    assert_eq!(sub["network_id"], net["id"]);
    assert_eq!(sub["gateway_ip"], "10.10.0.1");
    cli.json(&["router", "create", "cli-router"]).await;
    cli.run(&[
        "router",
        "set",
        "--external-gateway",
        "public",
        "cli-router",
    ])
    .await;
    cli.run(&["router", "add", "subnet", "cli-router", "cli-subnet"])
        .await;
    let router = cli.json(&["router", "show", "cli-router"]).await;
    assert_eq!(router["external_gateway_info"]["network_id"], ext["id"]);
    let fip = cli.json(&["floating", "ip", "create", "public"]).await;
    let fip_addr = fip["floating_ip_address"].as_str().unwrap().to_owned();
    assert!(fip_addr.starts_with("203.0.113."));

    let sg = cli.json(&["security", "group", "create", "cli-sg"]).await;
    let rule = cli
        .json(&[
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "22",
            "cli-sg",
        ])
        .await;
    assert_eq!(rule["security_group_id"], sg["id"]);
    let kp = cli
        .json(&[
            "keypair",
            "create",
            "--private-key",
            &std::env::temp_dir()
                .join(format!("cli-key-{}", uuid::Uuid::new_v4()))
                .display()
                .to_string(),
            "cli-key",
        ])
        .await;
    assert_eq!(kp["name"], "cli-key");
    let flavor = cli
        .json(&[
            "flavor",
            "create",
            "--ram",
            "512",
            "--disk",
            "1",
            "--vcpus",
            "1",
            "cli-flavor",
        ])
        .await;
    assert_eq!(flavor["ram"], 512);

    let vol = cli
        .json(&["volume", "create", "--size", "1", "cli-vol"])
        .await;
    let vol_id = vol["id"].as_str().unwrap().to_owned();
    cli.wait_field(&["volume", "show", "cli-vol"], "status", "available")
        .await;
    let snap = cli
        .json(&[
            "volume", "snapshot", "create", "--volume", "cli-vol", "cli-snap",
        ])
        .await;
    assert_eq!(snap["volume_id"], vol_id.as_str());
    cli.wait_field(
        &["volume", "snapshot", "show", "cli-snap"],
        "status",
        "available",
    )
    .await;
    let shown = cli.json(&["volume", "show", "cli-vol"]).await;
    assert_eq!(shown["size"], 1);
    assert_eq!(shown["bootable"], false);
    cli.run(&["volume", "set", "--bootable", "cli-vol"]).await;
    let shown = cli.json(&["volume", "show", "cli-vol"]).await;
    assert_eq!(shown["bootable"], true);

    let server = cli
        .json(&[
            "server",
            "create",
            "--flavor",
            "cli-flavor",
            "--volume",
            "cli-vol",
            "--network",
            "cli-net",
            "--key-name",
            "cli-key",
            "--security-group",
            "cli-sg",
            "cli-server",
        ])
        .await;
    let server_id = server["id"].as_str().unwrap().to_owned();
    let active = cli
        .wait_field(&["server", "show", "cli-server"], "status", "ACTIVE")
        .await;
    assert_eq!(active["key_name"], "cli-key");
    assert!(
        active["addresses"].to_string().contains("10.10.0."),
        "{}",
        active["addresses"]
    );
    assert!(active["security_groups"].to_string().contains("cli-sg"));

    let list = cli.json(&["server", "list"]).await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ID"] == server_id.as_str())
        .expect("server listed");
    assert_eq!(row["Status"], "ACTIVE");
    assert_eq!(row["Flavor"], "cli-flavor");

    let attached = cli.json(&["volume", "show", "cli-vol"]).await;
    assert_eq!(attached["status"], "in-use");
    assert!(attached["attachments"].to_string().contains(&server_id));
    let port = cli.json(&["port", "list", "--server", "cli-server"]).await;
    let port_id = port[0]["ID"].as_str().unwrap().to_owned();
    cli.run(&["floating", "ip", "set", "--port", &port_id, &fip_addr])
        .await;
    let with_fip = cli.json(&["server", "show", "cli-server"]).await;
    assert!(with_fip["addresses"].to_string().contains(&fip_addr));

    cli.run(&["server", "delete", "--wait", "cli-server"]).await;
    let list = cli.json(&["server", "list"]).await;
    assert!(list.as_array().unwrap().is_empty());
    cli.wait_field(&["volume", "show", "cli-vol"], "status", "available")
        .await;
    cloud.shutdown().await;
}
