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
