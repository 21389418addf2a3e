//! How an in-process run's CPU splits between its load generator and the
//! server it measures. The load generator runs on threads of its own
//! (`LOAD_THREAD`), so the server's share is the process's CPU less
//! theirs. On a 2-core machine the load generator takes a large part of
//! the CPU; the server's share tells what the server would do on a host
//! of its own, beside what the shared machine shows.

use serde::Serialize;

use super::error::BenchError;

/// The name of every thread of the load generator.
pub(super) const LOAD_THREAD: &str = "bench-load";

/// Linux reports thread CPU in USER_HZ ticks, 100 per second on every
/// architecture's user ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// A run's CPU split, and its rate against the bound of the CPU the
/// server used rather than of every core.
#[derive(Serialize)]
pub(super) struct ServerShare {
    /// CPU cores the server used on average while the load ran.
    pub(super) server_cores: f64,
    /// CPU cores the load generator used on average.
    pub(super) load_cores: f64,
    /// rate / (bound per CPU-second × server_cores).
    pub(super) fraction_of_server_cpu_bound: f64,
}

impl ServerShare {
    /// For `rate` per second over `secs` of load that took `server_cpu` and
    /// `load_cpu` CPU seconds, against `bound_per_cpu_second`.
    pub(super) fn of(
        (server_cpu, load_cpu): (f64, f64),
        secs: f64,
        rate: f64,
        bound_per_cpu_second: f64,
    ) -> Self {
        let per_second = |cpu: f64| if secs > 0.0 { cpu / secs } else { 0.0 };
        let server_cores = per_second(server_cpu);
        let server_bound = bound_per_cpu_second * server_cores;
        Self {
            server_cores,
            load_cores: per_second(load_cpu),
            fraction_of_server_cpu_bound: if server_bound > 0.0 {
                rate / server_bound
            } else {
                0.0
            },
        }
    }

    pub(super) fn line(&self) -> String {
        format!(
            "CPU: the server used {:.2} cores, the load generator {:.2}; against the bound of the server's CPU: {:.0}%",
            self.server_cores,
            self.load_cores,
            self.fraction_of_server_cpu_bound * 100.0
        )
    }
}

/// CPU seconds this process has used, its ended threads included.
pub(super) fn process_cpu() -> Result<f64, BenchError> {
    cpu_of("/proc/self/stat")
}

/// CPU seconds process `pid` has used: a server outside this process.
pub(super) fn process_cpu_of(pid: u32) -> Result<f64, BenchError> {
    cpu_of(&format!("/proc/{pid}/stat"))
}

/// CPU seconds of this process's live threads named `LOAD_THREAD`.
pub(super) fn load_threads_cpu() -> Result<f64, BenchError> {
    let tasks = std::fs::read_dir("/proc/self/task").map_err(|source| BenchError::Io {
        what: "/proc/self/task".into(),
        source,
    })?;
    let mut total = 0.0;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == LOAD_THREAD {
            // A thread that ended meanwhile has no stat left: it counts 0.
            total += cpu_of(&task.path().join("stat").to_string_lossy()).unwrap_or(0.0);
        }
    }
    Ok(total)
}

fn cpu_of(stat_path: &str) -> Result<f64, BenchError> {
    let stat = std::fs::read_to_string(stat_path).map_err(|source| BenchError::Io {
        what: stat_path.into(),
        source,
    })?;
    user_and_system_ticks(&stat)
        .map(|ticks| ticks as f64 / TICKS_PER_SECOND)
        .ok_or_else(|| BenchError::Args(format!("{stat_path}: no CPU times in it")))
}

/// utime + stime of a `stat` line: fields 14 and 15, counted after the
/// command name, which may hold spaces and parentheses itself.
fn user_and_system_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_are_read_after_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (bench (load) x) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 3 0";
        assert_eq!(user_and_system_ticks(stat), Some(281));
        assert_eq!(user_and_system_ticks("4242 (cut) S 1 2"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spent = process_cpu().unwrap();
        assert!((0.0..1e6).contains(&spent));
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(process_cpu().unwrap() > spent);
    }
}
