//! deploy/kubernetes: `kustomize build` of the base and of the `ha` overlay
//! (scale-out logs on PostgreSQL and object storage), and what they hold.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::deploy::{assert_tlog_serves_rekor_v2, container_args, find, objects};
use support::dev::{installed, run};

/// Pinned by scripts/install/kustomize.sh.
const KUSTOMIZE: &str = "go/kustomize-v5.5.0/kustomize";

fn build(dir: &str) -> Vec<Value> {
    let mut command = Command::new(installed(KUSTOMIZE));
    command.arg("build").arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/kubernetes")
            .join(dir),
    );
    let out = run(command).unwrap_or_else(|out| panic!("kustomize build {dir} failed:\n{out}"));
    objects(&out)
}

/// Every ConfigMap a pod template mounts is rendered, under the name with
/// the content hash the generator gave it (`atesto-public` is made with
/// kubectl, deploy/README.md).
fn config_maps_resolve(objects: &[Value], workload: &Value) {
    for volume in workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
    {
        if let Some(name) = volume["configMap"]["name"].as_str()
            && name != "atesto-public"
        {
            find(objects, "ConfigMap", name);
        }
    }
}

#[test]
fn the_base_runs_each_log_as_one_writer() {
    let objects = build("base");
    for name in ["atesto-tlog", "atesto-ct"] {
        let set = find(&objects, "StatefulSet", name);
        assert_eq!(set["spec"]["replicas"], 1);
        config_maps_resolve(&objects, set);
    }
    // The tlog's pod also serves Rekor v2.
    let pod = &find(&objects, "StatefulSet", "atesto-tlog")["spec"]["template"]["spec"];
    let config_name = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .unwrap()["configMap"]["name"]
        .as_str()
        .unwrap();
    let config = find(&objects, "ConfigMap", config_name)["data"]["tlog.yaml"]
        .as_str()
        .unwrap();
    let config: Value = serde_yaml_ng::from_str(config).unwrap();
    assert_tlog_serves_rekor_v2(&objects, pod, &config);
}

#[test]
fn the_ha_overlay_runs_replicated_logs_on_postgres_and_a_bucket() {
    let objects = build("ha");
    assert_eq!(
        find(&objects, "Deployment", "atesto-ca")["spec"]["replicas"],
        2
    );
    assert_eq!(
        find(&objects, "PodDisruptionBudget", "atesto-ca")["spec"]["minAvailable"],
        1
    );
    for (name, service, database) in [
        ("atesto-tlog", "tlog", "atesto_tlog"),
        ("atesto-ct", "ct", "atesto_ct"),
    ] {
        assert!(
            !objects
                .iter()
                .any(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == name),
            "{name}: the base's StatefulSet is gone"
        );
        let deployment = find(&objects, "Deployment", name);
        assert_eq!(deployment["spec"]["replicas"], 3);
        config_maps_resolve(&objects, deployment);
        let args = container_args(deployment);
        assert_eq!(args[1], service);
        // TLS checked against the CloudNativePG cluster's CA, which is mounted.
        assert!(
            args.contains(&format!(
                "--database=postgres://$(DB_USER):$(DB_PASSWORD)@atesto-db-rw:5432/{database}\
                 ?sslmode=verify-full&sslrootcert=/etc/atesto/db-ca/ca.crt"
            )),
            "{args:?}"
        );
        let pod = &deployment["spec"]["template"]["spec"];
        let db_ca = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "db-ca")
            .expect("the db-ca volume");
        assert_eq!(db_ca["secret"]["secretName"], "atesto-db-ca");
        assert_eq!(
            db_ca["secret"]["items"],
            json!([{"key": "ca.crt", "path": "ca.crt"}])
        );
        assert!(
            pod["containers"][0]["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "db-ca" && m["mountPath"] == "/etc/atesto/db-ca"),
            "the db-ca mount"
        );
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let env = container["env"].as_array().unwrap();
        for var in ["DB_USER", "DB_PASSWORD"] {
            let found = env.iter().find(|e| e["name"] == var).expect(var);
            assert_eq!(found["valueFrom"]["secretKeyRef"]["name"], "atesto-db-app");
        }
        assert_eq!(
            container["envFrom"][0]["secretRef"]["name"],
            "atesto-object-store"
        );

        // Its config names the bucket.
        let volumes = deployment["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap();
        let config_name =
            volumes.iter().find(|v| v["name"] == "config").unwrap()["configMap"]["name"]
                .as_str()
                .unwrap();
        let config = find(&objects, "ConfigMap", config_name)["data"][format!("{service}.yaml")]
            .as_str()
            .unwrap();
        let config: Value = serde_yaml_ng::from_str(config).unwrap();
        assert_eq!(config["object_store"], format!("s3://atesto-log/{service}"));

        let budget = find(&objects, "PodDisruptionBudget", name);
        assert_eq!(budget["spec"]["minAvailable"], 2);
        assert_eq!(
            budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
            name
        );
        // The base's Service still selects the pods.
        assert_eq!(
            find(&objects, "Service", name)["spec"]["selector"]["app.kubernetes.io/name"],
            deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        );
    }
    // Rekor v2 keeps an embedded store: the scale-out log does not serve it.
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "Service" && o["metadata"]["name"] == "atesto-tlog-v2"),
        "the ha overlay keeps the Rekor v2 Service"
    );
    let cluster = find(&objects, "Cluster", "atesto-db");
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    assert_eq!(cluster["spec"]["instances"], 3);
    assert_eq!(cluster["metadata"]["namespace"], "atesto");
    find(&objects, "ScheduledBackup", "atesto-db-daily");
    find(&objects, "NetworkPolicy", "atesto-db-from-logs");
}
