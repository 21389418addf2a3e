//! deploy/helm/atesto: `helm lint` and `helm template` with the example
//! values, and the rendered objects match the kustomize base's shape.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::deploy::{assert_tlog_serves_rekor_v2, container_args, find, objects};
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

    // Rekor v2 beside it, on its own port, Service and key Secret.
    assert_eq!(
        config["rekor_v2"]["hostname"],
        "log2026.rekor.sigstore.example.com"
    );
    let pod = &find(&objects, "StatefulSet", "atesto-tlog")["spec"]["template"]["spec"];
    assert_tlog_serves_rekor_v2(&objects, pod, &config);

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
fn chart_refuses_stores_it_cannot_deploy() {
    let out = template(&["--set", "ct.store=cassandra"]).expect_err("an unknown store renders");
    assert!(out.contains("neither `embedded` nor `scaleout`"), "{out}");
    let out =
        template(&["--set", "tlog.store=scaleout"]).expect_err("scale-out without a database");
    assert!(out.contains("needs tlog.database.secret"), "{out}");
    let out = template(&[
        "--set",
        "tlog.store=scaleout",
        "--set",
        "tlog.database.secret=db",
    ])
    .expect_err("Rekor v2 on a scale-out log");
    assert!(
        out.contains("tlog.rekorV2 needs tlog.store embedded"),
        "{out}"
    );
    // The same chart without those settings renders, with or without the TSA.
    template(&["--set", "tsa.enabled=false"]).unwrap_or_else(|out| panic!("{out}"));
    let without_v2 =
        template(&["--set", "tlog.rekorV2.enabled=false"]).unwrap_or_else(|out| panic!("{out}"));
    assert!(!without_v2.contains("rekor_v2"), "{without_v2}");
    assert!(!without_v2.contains("atesto-tlog-v2"), "{without_v2}");
    template(&["--set", "tsa.enabled=true"]).unwrap_or_else(|out| panic!("{out}"));
}

#[test]
fn chart_renders_scale_out_logs_from_the_example_values() {
    let scaleout = chart().join("values.scaleout.example.yaml");
    let scaleout = scaleout.to_str().unwrap();
    let lint = run(helm(&[
        "lint",
        "--strict",
        chart().to_str().unwrap(),
        "-f",
        chart().join("values.example.yaml").to_str().unwrap(),
        "-f",
        scaleout,
    ]))
    .unwrap_or_else(|out| panic!("helm lint failed:\n{out}"));
    assert!(lint.contains("0 chart(s) failed"), "{lint}");
    let rendered = template(&["-f", scaleout]).unwrap_or_else(|out| panic!("{out}"));
    let objects = objects(&rendered);
    assert_eq!(
        find(&objects, "Deployment", "atesto-ca")["spec"]["replicas"],
        2
    );
    for (name, service, secret) in [
        ("atesto-tlog", "tlog", "atesto-tlog-db"),
        ("atesto-ct", "ct", "atesto-ct-db"),
    ] {
        assert!(
            !objects
                .iter()
                .any(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == name),
            "{name} is still a StatefulSet"
        );
        let deployment = find(&objects, "Deployment", name);
        assert_eq!(deployment["spec"]["replicas"], 3, "{name}");
        assert_eq!(
            container_args(deployment),
            [
                "--log-format=json".to_owned(),
                service.to_owned(),
                format!("--config=/etc/atesto/config/{service}.yaml"),
                "--database=$(ATESTO_DATABASE_URL)".to_owned(),
            ]
        );
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["env"][0]["name"], "ATESTO_DATABASE_URL");
        assert_eq!(
            container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
            secret
        );
        assert_eq!(
            container["env"][0]["valueFrom"]["secretKeyRef"]["key"],
            "uri"
        );
        assert_eq!(
            container["envFrom"][0]["secretRef"]["name"],
            "atesto-object-store"
        );
        // No volume claim: the log lives in PostgreSQL and the bucket.
        assert!(pod["volumes"][0]["emptyDir"].is_object(), "{name}");
        let budget = find(&objects, "PodDisruptionBudget", name);
        assert_eq!(budget["spec"]["minAvailable"], 2);
        assert_eq!(
            budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
            name
        );
        let config = find(&objects, "ConfigMap", &format!("{name}-config"))["data"]
            [format!("{service}.yaml")]
        .as_str()
        .unwrap();
        let config: Value = serde_yaml_ng::from_str(config).unwrap();
        assert_eq!(config["object_store"], format!("s3://atesto-log/{service}"));
    }
}
