//! Reading what a deployment renders (`helm template`, `kustomize build`):
//! its objects as JSON values, found by kind and name.

use serde_json::Value;

/// The objects of a `support::dev::run` output (its stdout of YAML
/// documents), as JSON values.
pub fn objects(rendered: &str) -> Vec<Value> {
    let start = rendered.find("stdout: ").expect("stdout") + "stdout: ".len();
    let end = rendered.rfind("\nstderr: ").expect("stderr");
    rendered[start..end]
        .split("\n---")
        .filter_map(|doc| serde_yaml_ng::from_str::<Value>(doc).ok())
        .filter(|v| v.is_object())
        .collect()
}

pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

/// The first container's args of a workload.
pub fn container_args(object: &Value) -> Vec<String> {
    object["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// The tlog's pod serves Rekor v2 too: `config` (its tlog.yaml) has the
/// `rekor_v2:` section, the pod the port `http-v2` (3002) and the key Secret
/// `atesto-tlog-v2-key`, the Service `atesto-tlog-v2` points at that port,
/// and the clients' NetworkPolicy opens it beside 3000.
pub fn assert_tlog_serves_rekor_v2(objects: &[Value], pod: &Value, config: &Value) {
    let section = &config["rekor_v2"];
    assert_eq!(section["addr"], "0.0.0.0:3002", "{config}");
    assert_eq!(section["key"], "/etc/atesto/tlog-v2-key/checkpoint-key.pem");
    let container = &pod["containers"][0];
    let named = |list: &Value, name: &str| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|item| item["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list}"))
            .clone()
    };
    assert_eq!(named(&container["ports"], "http-v2")["containerPort"], 3002);
    assert_eq!(
        named(&container["volumeMounts"], "key-v2")["mountPath"],
        "/etc/atesto/tlog-v2-key"
    );
    assert_eq!(
        named(&pod["volumes"], "key-v2")["secret"]["secretName"],
        "atesto-tlog-v2-key"
    );
    let service = find(objects, "Service", "atesto-tlog-v2");
    assert_eq!(service["spec"]["ports"][0]["port"], 3002);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http-v2");
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/name"],
        "atesto-tlog"
    );
    let policy = find(objects, "NetworkPolicy", "atesto-tlog-from-clients");
    let ports: Vec<&Value> = policy["spec"]["ingress"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["port"])
        .collect();
    assert_eq!(ports, [3000, 3002]);
}
