//! deploy/helm/atesto: `helm lint` and `helm template` with the example
//! values, and the rendered objects match the kustomize base's shape.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::dev::{installed, run};

/// Pinned by scripts/install/helm.sh.
const HELM: &str = "go/helm-v3.22.0/helm";

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/atesto")
}

fn helm(args: &[&str]) -> Command {
    let mut command = Command::new(installed(HELM));
    command
        .args(args)
        // Keeps helm's caches and config out of the home directory.
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("atesto-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("atesto-helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("atesto-helm-data"),
        )
        .stdin(Stdio::null());
    command
}

fn template(extra: &[&str]) -> Result<String, String> {
    let chart = chart();
    let example = chart.join("values.example.yaml");
    let mut args = vec![
        "template",
        "atesto",
        chart.to_str().unwrap(),
        "--namespace",
        "atesto",
        "-f",
        example.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(helm(&args))
}

/// The rendered objects, as JSON values.
fn objects(rendered: &str) -> Vec<Value> {
    let start = rendered.find("stdout: ").expect("stdout") + "stdout: ".len();
    let end = rendered.rfind("\nstderr: ").expect("stderr");
    rendered[start..end]
        .split("\n---")
        .filter_map(|doc| serde_yaml_ng::from_str::<Value>(doc).ok())
        .filter(|v| v.is_object())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn container_args(object: &Value) -> Vec<String> {
    object["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn chart_lints_and_renders_the_services_of_the_kustomize_base() {
    let chart = chart();
    let example = chart.join("values.example.yaml");
    let lint = run(helm(&[
        "lint",
        "--strict",
        chart.to_str().unwrap(),
        "-f",
        example.to_str().unwrap(),
    ]))
    .unwrap_or_else(|out| panic!("helm lint failed:\n{out}"));
    assert!(lint.contains("0 chart(s) failed"), "{lint}");

    let rendered = template(&[]).unwrap_or_else(|out| panic!("helm template failed:\n{out}"));
    let objects = objects(&rendered);

    let ca = find(&objects, "Deployment", "atesto-ca");
    assert_eq!(ca["spec"]["replicas"], 3, "the example's CA replicas");
    assert_eq!(
        container_args(ca),
        [
            "--log-format=json",
            "ca",
            "--config=/etc/atesto/config/ca.yaml"
        ]
    );
    assert_eq!(
        ca["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example/atesto:0.1.0"
    );
    for (name, service) in [("atesto-tlog", "tlog"), ("atesto-ct", "ct")] {
        let set = find(&objects, "StatefulSet", name);
        assert_eq!(set["spec"]["replicas"], 1, "{name}: one writer");
        assert_eq!(
            container_args(set),
            [
                "--log-format=json".to_owned(),
                service.to_owned(),
                format!("--config=/etc/atesto/config/{service}.yaml"),
            ]
        );
        find(&objects, "Service", name);
        let security = &set["spec"]["template"]["spec"]["containers"][0]["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true);
    }
    // The example's tlog settings reach the config file.
    let config = find(&objects, "ConfigMap", "atesto-tlog-config")["data"]["tlog.yaml"]
        .as_str()
        .unwrap();
    let config: Value = serde_yaml_ng::from_str(config).unwrap();
    assert_eq!(config["hostname"], "rekor.sigstore.example.com");
    assert_eq!(config["batch"]["max_size"], 512);
    let storage = &find(&objects, "StatefulSet", "atesto-tlog")["spec"]["volumeClaimTemplates"][0];
    assert_eq!(storage["spec"]["storageClassName"], "fast-ssd");
    assert_eq!(storage["spec"]["resources"]["requests"]["storage"], "50Gi");

    let monitor = find(&objects, "StatefulSet", "atesto-monitor");
    let args = container_args(monitor);
    assert!(args.contains(&"monitor".to_owned()), "{args:?}");
    assert!(
        args.contains(&"--log=http://atesto-tlog:3000".to_owned()),
        "{args:?}"
    );
    assert!(args.contains(&"--interval=30".to_owned()), "{args:?}");

    let ct_policy = find(&objects, "NetworkPolicy", "atesto-ct-from-ca");
    assert_eq!(
        ct_policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "atesto-ca"
    );
    find(&objects, "NetworkPolicy", "atesto-metrics-from-prometheus");
    let tsa = find(&objects, "Deployment", "atesto-tsa");
    assert_eq!(tsa["spec"]["replicas"], 3);
    let args = container_args(tsa);
    assert!(args.contains(&"tsa".to_owned()), "{args:?}");
    let config = find(&objects, "ConfigMap", "atesto-tsa-config")["data"]["tsa.yaml"]
        .as_str()
        .unwrap();
    let config: Value = serde_yaml_ng::from_str(config).unwrap();
    assert_eq!(config["signer"]["chain"], "/etc/atesto/tsa/chain.pem");
    find(&objects, "Service", "atesto-tsa");
    find(&objects, "NetworkPolicy", "atesto-tsa-from-clients");
}

#[test]
fn chart_refuses_components_that_do_not_exist_yet() {
    let out = template(&["--set", "tlog.store=scaleout"]).expect_err("a scale-out store renders");
    assert!(out.contains("only `embedded` exists"), "{out}");
    // The same chart without that setting renders, with or without the TSA.
    template(&["--set", "tsa.enabled=false"]).unwrap_or_else(|out| panic!("{out}"));
    template(&["--set", "tsa.enabled=true"]).unwrap_or_else(|out| panic!("{out}"));
}
